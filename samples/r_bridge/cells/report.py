# @name report
# Back in Python: the R summary is a pandas DataFrame.
share = by_region.assign(share=lambda d: (d.revenue / d.revenue.sum()).round(3))
print(f"best region: {best}")
print(share.to_string(index=False))
