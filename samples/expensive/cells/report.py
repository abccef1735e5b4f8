# @name Report
error = max(abs(a - b) for a, b in zip(weights, range(1, 9)))
print(f"learned weights: {weights}")
print(f"max error vs truth: {error:.3f}")
