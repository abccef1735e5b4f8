# @name Daily revenue
daily = orders.groupby("date", as_index=True)["revenue"].sum().rename("revenue").to_frame()
daily["rolling_7d"] = daily["revenue"].rolling(7, min_periods=1).mean()
daily.tail()
