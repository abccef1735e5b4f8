# @name Report
from pathlib import Path

print(table)
print("ran in", Path(interpreter).parent.parent.name)
