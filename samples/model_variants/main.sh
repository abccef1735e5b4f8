#!/usr/bin/env bash
# Runs this sample headlessly, twice, and checks both runs: the three members of the sweep
# group `model` run, `score` (@per_variant) runs once per member and `compare` receives
# {member: rmse}. The second `strata run` is all cache hits.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.venv/bin"
out="$(mktemp -t strata-model-variants.XXXXXX.json)"
trap 'rm -f "$out"' EXIT

echo "== strata run samples/model_variants"
"$bin/strata" run "$here"
echo "== again, checked"
"$bin/strata" run "$here" --format json >"$out" || { cat "$out"; exit 1; }
"$bin/python" - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
cells = {c["id"]: c for c in report["cells"]}
assert report["success"], report
assert all(c["cache_hit"] for i, c in cells.items() if i != "intro"), cells
lines = cells["compare"]["stdout"].splitlines()
assert [line.split(":")[0].strip() for line in lines[:3]] == ["poly", "ridge", "linear"], lines
assert lines[-1] == "best model: poly", lines
print("model_variants: ok (" + lines[-1] + ")")
PY
