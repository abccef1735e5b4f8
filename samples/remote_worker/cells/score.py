# @name Score customers (on the remote worker)
# @worker remote
import platform

scored = (
    orders.assign(revenue=orders["quantity"] * orders["unit_price"])
    .groupby("customer", as_index=False)
    .agg(orders=("quantity", "size"), revenue=("revenue", "sum"))
    .sort_values("revenue", ascending=False, ignore_index=True)
)
print(f"scored {len(scored)} customers on {platform.node()}")
