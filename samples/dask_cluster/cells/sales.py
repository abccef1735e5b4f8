# @name Generate sales
import numpy as np
import pandas as pd

rng = np.random.default_rng(11)
rows = 200_000
sales = pd.DataFrame(
    {
        "day": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), "D"),
        "region": rng.choice(["north", "south", "east", "west"], size=rows),
        "product": rng.choice(["anvil", "rocket", "magnet", "spring", "glue"], size=rows),
        "quantity": rng.integers(1, 10, size=rows),
        "unit_price": rng.uniform(1.0, 50.0, size=rows).round(2),
    }
)
print(f"{len(sales):,} orders")
