# @name Summary
total = float(orders["revenue"].sum())
best_region = str(by_region.sum(axis=1).idxmax())
Markdown(f"**Total revenue:** {total:,.2f}  \n**Best region:** {best_region}")
