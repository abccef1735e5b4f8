# @name Refine (forked from climb's 5th iteration)
# @loop max_iter=100 carry=state start_from=climb@iter=4
# @loop_until state["step"] < 1e-4
# Resumes from climb's stored iteration 4 without re-running it, with a finer stop.
x, y, step = state["x"], state["y"], state["step"]
moves = [(x + step, y), (x - step, y), (x, y + step), (x, y - step)]
best = max(moves, key=lambda p: height(*p))
if height(*best) > state["h"]:
    state = {**state, "x": best[0], "y": best[1], "h": height(*best)}
else:
    state = {**state, "step": step / 2}
state = {**state, "iter": state["iter"] + 1}
