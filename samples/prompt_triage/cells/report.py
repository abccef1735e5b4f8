import pandas as pd

triaged = pd.DataFrame(triage["tickets"]).merge(tickets, on="id", how="left")
print(triaged.groupby("category").size().to_string())
rank = {"high": 0, "normal": 1, "low": 2}
first = triaged.sort_values("urgency", key=lambda s: s.map(rank)).iloc[0]
urgent = {"id": int(first["id"]), "summary": str(first["summary"]), "text": str(first["text"])}
print(f"most urgent: #{urgent['id']} {urgent['summary']}")
