# @variant model linear
import numpy as np

coef = np.polyfit(x_train, y_train, 1)


def predict(inputs):
    return np.polyval(coef, inputs)
