# @variant model poly
import numpy as np

coef = np.polyfit(x_train, y_train, 2)


def predict(inputs):
    return np.polyval(coef, inputs)
