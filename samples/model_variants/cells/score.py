# @per_variant model
import numpy as np

rmse = float(np.sqrt(np.mean((model.predict(x_test[:, None]) - y_test) ** 2)))
print(f"test RMSE {rmse:.3f}")
