#!/usr/bin/env bash
# Runs this sample headlessly, twice, and checks the second run: SQL cells on SQLite and
# DuckDB need no server. The write cells (`@cache session` by default) run again in the
# second `strata run` (a new session), so the cells after them re-run too; they produce the
# same rows, so the Python cells downstream are served from the cache (early cutoff).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.venv/bin"
out="$(mktemp -t strata-sql-orders.XXXXXX.json)"
trap 'rm -f "$out"' EXIT

echo "== strata run samples/sql_orders"
"$bin/strata" run "$here"
echo "== again, checked"
"$bin/strata" run "$here" --format json >"$out" || { cat "$out"; exit 1; }
"$bin/python" - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
cells = {c["id"]: c for c in report["cells"]}
assert report["success"], report
for cell_id in ("segments", "report", "min_total"):
    assert cells[cell_id]["cache_hit"], (cell_id, cells[cell_id])
expected = "big spenders (>= 150): Edsger, Ada, Grace; archived revenue 617.40\n"
assert cells["report"]["stdout"] == expected, cells["report"]
print("sql_orders: ok (" + cells["report"]["stdout"].strip() + ")")
PY
