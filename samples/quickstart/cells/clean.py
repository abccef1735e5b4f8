# @name Clean
# Drop the small orders and compute revenue per line.
orders = sales[sales["units"] >= 2].copy()
orders["revenue"] = orders["units"] * orders["unit_price"]
orders = orders.sort_values("date").reset_index(drop=True)
print(f"kept {len(orders)} of {len(sales)} rows")
