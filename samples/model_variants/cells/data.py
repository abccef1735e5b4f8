import numpy as np

rng = np.random.default_rng(7)
x = np.linspace(-3, 3, 200)
y = 0.5 * x**2 - x + 2 + rng.normal(0, 0.4, x.size)
train = np.arange(x.size) % 4 != 0  # every fourth point is held out
x_train, y_train = x[train], y[train]
x_test, y_test = x[~train], y[~train]
