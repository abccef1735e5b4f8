# @name Table (tabulate, from the notebook's own .venv)
import sys

import tabulate

table = tabulate.tabulate(planets, headers="keys", tablefmt="github")
interpreter = sys.executable
