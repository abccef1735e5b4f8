# @name Climb
# @loop max_iter=200 carry=state
# @loop_until state["step"] < 1e-3
# Coordinate ascent: try the four neighbours one step away; move to the best if it is
# higher, otherwise halve the step. Every iteration's `state` is stored (@iter=k).
x, y, step = state["x"], state["y"], state["step"]
moves = [(x + step, y), (x - step, y), (x, y + step), (x, y - step)]
best = max(moves, key=lambda p: height(*p))
if height(*best) > state["h"]:
    state = {**state, "x": best[0], "y": best[1], "h": height(*best)}
else:
    state = {**state, "step": step / 2}
state = {**state, "iter": state["iter"] + 1}
print(f"iter {state['iter']}: ({state['x']:.3f}, {state['y']:.3f}) h={state['h']:.4f}")
