# @name Terrain
# A smooth hill with its summit at (2, -1): height 10.
import math


def height(x: float, y: float) -> float:
    return 10.0 - (x - 2.0) ** 2 - 0.5 * (y + 1.0) ** 2 + 0.1 * math.sin(3 * x) * math.sin(3 * y)
