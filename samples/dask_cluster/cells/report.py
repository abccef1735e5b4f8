# @name Report
best_region = by_region.groupby("region")["revenue"].sum().idxmax()
best_month = by_region.groupby("month")["revenue"].sum().idxmax()
top = by_product.iloc[0]
print(f"best region: {best_region}; best month: {best_month}")
print(f"top product: {top['product']} ({int(top['units']):,} units)")
by_product
