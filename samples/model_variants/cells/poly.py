# @variant model poly
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

model = make_pipeline(PolynomialFeatures(2), LinearRegression()).fit(x_train[:, None], y_train)
