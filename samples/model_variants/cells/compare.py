best = min(rmse, key=rmse.get)
for name, value in sorted(rmse.items(), key=lambda item: item[1]):
    print(f"{name:>6}: {value:.3f}")
print(f"best model: {best}")
