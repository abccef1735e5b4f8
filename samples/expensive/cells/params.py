# @name Parameters
seed = 42
n_points = 200_000
iterations = 700
