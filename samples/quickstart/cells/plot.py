# @name Plot
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(daily.index, daily["revenue"], alpha=0.4, label="daily")
ax.plot(daily.index, daily["rolling_7d"], label="7-day mean")
ax.set_title("Revenue per day")
ax.legend()
plt.show()
