# @name sales
# A small sales table built in pandas; the R cell below receives it as a data.frame.
import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
regions = ["north", "south", "east", "west"]
sales = pd.DataFrame(
    {
        "region": pd.Categorical(rng.choice(regions, size=200), categories=regions),
        "units": rng.integers(1, 20, size=200),
        "price": rng.uniform(5.0, 50.0, size=200).round(2),
    }
)
