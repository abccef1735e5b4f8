# @name Units and revenue by product (on the dask cluster)
# @worker cluster
import os

by_product = (
    sales.assign(revenue=sales["quantity"] * sales["unit_price"])
    .groupby("product", as_index=False)
    .agg(units=("quantity", "sum"), revenue=("revenue", "sum"))
    .sort_values("revenue", ascending=False, ignore_index=True)
)
print(f"{len(by_product)} products in process {os.getpid()}")
