#!/usr/bin/env bash
# Runs this sample headlessly, twice, and checks both runs: the first `strata run` creates
# the notebook's own .venv from pyproject.toml/uv.lock with uv (tabulate is not in the
# engine's environment) and runs the cells in it; the second is all cache hits and runs
# nothing, uv included (`--no-sync` would refuse to run if the venv were not current).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.venv/bin"
out="$(mktemp -t strata-isolated-env.XXXXXX.json)"
trap 'rm -f "$out"' EXIT

echo "== strata run samples/isolated_env"
"$bin/strata" run "$here"
echo "== strata env samples/isolated_env"
"$bin/strata" env "$here"
echo "== again (--no-sync), checked"
"$bin/strata" run "$here" --no-sync --format json >"$out" || { cat "$out"; exit 1; }
"$bin/python" - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
cells = {c["id"]: c for c in report["cells"]}
assert report["success"], report
assert all(c["cache_hit"] for c in cells.values()), cells
lines = cells["report"]["stdout"].splitlines()
assert lines[0].startswith("| planet"), lines
assert lines[-1] == "ran in .venv", lines
print("isolated_env: ok (" + lines[-1] + ")")
PY
