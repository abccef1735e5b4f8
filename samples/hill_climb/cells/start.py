# @name Start
state = {"x": -3.0, "y": 4.0, "step": 1.0, "iter": 0, "h": height(-3.0, 4.0)}
