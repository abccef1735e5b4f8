# @name Load orders
import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
orders = pd.DataFrame(
    {
        "customer": rng.choice(["acme", "globex", "initech", "umbrella"], size=2_000),
        "quantity": rng.integers(1, 20, size=2_000),
        "unit_price": rng.uniform(2.0, 40.0, size=2_000).round(2),
    }
)
