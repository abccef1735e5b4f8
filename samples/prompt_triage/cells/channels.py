per_channel = tickets.groupby("channel").size().sort_values(ascending=False)
print(per_channel.to_string())
