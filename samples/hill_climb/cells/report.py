# @name Report
# `state` here is the final carry of `refine` (the nearest cell above that defines it).
print(f"summit near ({state['x']:.2f}, {state['y']:.2f}), height {state['h']:.3f}")
print(f"refine stopped after iteration {state['iter']}")
