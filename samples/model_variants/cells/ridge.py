# @variant model ridge
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

# Degree 8 would overfit 150 noisy points; the ridge penalty keeps it smooth.
model = make_pipeline(PolynomialFeatures(8), StandardScaler(), Ridge(alpha=1.0)).fit(
    x_train[:, None], y_train
)
