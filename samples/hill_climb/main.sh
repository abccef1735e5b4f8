#!/usr/bin/env bash
# Runs this sample headlessly, twice, and checks both runs: `climb` iterates until its
# @loop_until holds (each iteration's carry stored), `refine` resumes from climb's stored
# iteration 4 (start_from) and `report` reads refine's final carry. The second `strata run`
# is all cache hits: no loop iterates again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.venv/bin"
out="$(mktemp -t strata-hill-climb.XXXXXX.json)"
trap 'rm -f "$out"' EXIT

echo "== strata run samples/hill_climb"
"$bin/strata" run "$here"
echo "== again, checked"
"$bin/strata" run "$here" --format json >"$out" || { cat "$out"; exit 1; }
"$bin/python" - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
cells = {c["id"]: c for c in report["cells"]}
assert report["success"], report
assert all(c["cache_hit"] for c in cells.values()), cells
expected = "summit near (1.94, -0.88), height 10.011\nrefine stopped after iteration 35\n"
assert cells["report"]["stdout"] == expected, cells["report"]
print("hill_climb: ok (" + cells["report"]["stdout"].splitlines()[0] + ")")
PY
