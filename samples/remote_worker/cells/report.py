# @name Report
top = scored.iloc[0]
print(f"top customer: {top['customer']} with {top['revenue']:.2f} revenue")
scored
