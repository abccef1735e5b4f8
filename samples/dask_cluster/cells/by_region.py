# @name Revenue by region and month (on the dask cluster)
# @worker cluster
import os

by_region = (
    sales.assign(
        month=sales["day"].dt.to_period("M").astype(str),
        revenue=sales["quantity"] * sales["unit_price"],
    )
    .groupby(["region", "month"], as_index=False)
    .agg(orders=("quantity", "size"), revenue=("revenue", "sum"))
)
print(f"{len(by_region)} region-months in process {os.getpid()}")
