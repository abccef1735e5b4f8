# @variant model ridge
import numpy as np

_alpha = 5.0  # private (leading _): every member must define the same public names
_features = np.vander(x_train, 4)
coef = np.linalg.solve(_features.T @ _features + _alpha * np.eye(4), _features.T @ y_train)


def predict(inputs):
    return np.vander(inputs, 4) @ coef
