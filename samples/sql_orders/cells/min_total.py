min_total = 150.0
