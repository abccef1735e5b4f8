# `orders` arrives as a pandas DataFrame (the SQL cell's Arrow result).
segments = (
    orders.groupby("customer", as_index=False)
    .agg(total=("amount", "sum"), orders=("id", "count"))
    .sort_values("customer", ignore_index=True)
)
print(segments.to_string(index=False))
