# @name Load sales
import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
n = 5_000
sales = pd.DataFrame(
    {
        "date": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
        "region": rng.choice(["north", "south", "east", "west"], n),
        "product": rng.choice(["widget", "gadget", "gizmo", "doohickey"], n),
        "units": rng.integers(1, 20, n),
        "unit_price": rng.choice([4.5, 9.99, 19.0, 42.0], n),
    }
)
print(f"loaded {len(sales)} rows")
sales.head()
