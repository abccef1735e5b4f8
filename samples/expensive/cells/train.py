# @name Train (slow)
# @timeout 120
# Stands in for an expensive step (model training, embeddings, a big scan): a few seconds
# of real numeric work. The second `strata run` serves it from the cache instantly.
import numpy as np

rng = np.random.default_rng(seed)
x = rng.normal(size=(n_points, 8))
true_w = np.arange(1, 9, dtype=float)
y = x @ true_w + rng.normal(scale=0.5, size=n_points)
w = np.zeros(8)
for step in range(iterations):
    for batch in np.array_split(np.arange(n_points), 50):
        grad = x[batch].T @ (x[batch] @ w - y[batch]) / len(batch)
        w -= 0.05 * grad
weights = w.round(3).tolist()
print(f"trained for {iterations} epochs")
