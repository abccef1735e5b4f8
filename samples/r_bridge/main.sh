#!/usr/bin/env bash
# Runs this sample headlessly, twice, and checks both runs: a pandas frame crosses into R as
# a data.frame, R summarizes it and draws a ggplot2 chart, and Python reads R's summary back
# as a pandas DataFrame. The second `strata run` is all cache hits: R does not run again.
# Needs R: scripts/setup-r.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.venv/bin"
out="$(mktemp -t strata-r-bridge.XXXXXX.json)"
trap 'rm -f "$out"' EXIT

echo "== strata run samples/r_bridge"
"$bin/strata" run "$here"
echo "== again, checked"
"$bin/strata" run "$here" --format json >"$out" || { cat "$out"; exit 1; }
"$bin/python" - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
cells = {c["id"]: c for c in report["cells"]}
assert report["success"], report
assert all(c["cache_hit"] for c in cells.values()), cells
assert cells["report"]["stdout"].startswith("best region: east\n"), cells["report"]
print("r_bridge: ok (" + cells["report"]["stdout"].splitlines()[0] + ")")
PY
