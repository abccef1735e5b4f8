# @variant model linear
from sklearn.linear_model import LinearRegression

model = LinearRegression().fit(x_train[:, None], y_train)
