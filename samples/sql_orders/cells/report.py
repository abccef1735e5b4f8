names = ", ".join(big_spenders.customer)
revenue = float(lake_totals.revenue[0])
print(f"big spenders (>= {min_total:.0f}): {names}; archived revenue {revenue:.2f}")
