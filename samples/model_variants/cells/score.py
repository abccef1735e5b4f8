# @per_variant model
import numpy as np

rmse = float(np.sqrt(np.mean((predict(x_test) - y_test) ** 2)))
print(f"test RMSE {rmse:.3f}")
