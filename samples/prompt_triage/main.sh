#!/usr/bin/env bash
# Runs samples/prompt_triage from scripts/main.sh (or by hand: bash samples/prompt_triage/main.sh).
# With OPENAI_API_KEY set (or the variable [ai] api_key_env names) it runs for real, twice: the
# second run is served from the cache and sends nothing. Without a key it runs once and checks
# that exactly the prompt cells fail with the missing-key message, that the cells after them
# are skipped and that every other cell succeeded; that is the expected outcome, so it exits 0.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
sample=samples/prompt_triage
strata=.venv/bin/strata

if [ -n "${OPENAI_API_KEY:-}" ]; then
  echo "== strata run $sample (OPENAI_API_KEY is set: prompts go to the endpoint)"
  "$strata" run "$sample"
  echo "== again (cached: no request)"
  "$strata" run "$sample"
  exit 0
fi

echo "== strata run $sample (no OPENAI_API_KEY: the prompt cells must fail clearly, nothing else)"
report="$(mktemp -t strata-prompt-triage.XXXXXX.json)"
trap 'rm -f "$report"' EXIT
set +e
"$strata" run "$sample" --format json >"$report"
code=$?
set -e
.venv/bin/python - "$report" "$code" "$sample" <<'PY'
import json, sys, tomllib
from pathlib import Path

report_path, code, sample = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
report = json.loads(Path(report_path).read_text())
manifest = tomllib.loads((sample / "notebook.toml").read_text())
language = {cell["id"]: cell["language"] for cell in manifest["cells"]}
problems = [] if code == 1 else [f"exit code {code}, expected 1"]
for cell in report["cells"]:
    cid, status = cell["id"], cell["status"]
    if language[cid] == "prompt" and status == "error":
        if "set the environment variable OPENAI_API_KEY" not in cell.get("error", ""):
            problems.append(f"{cid}: unexpected error: {cell.get('error')}")
    elif language[cid] == "prompt" and status == "skipped":
        pass  # downstream of the first prompt cell
    elif status == "skipped" and cell.get("reason") == "upstream failed":
        pass  # a Python cell reading a prompt cell's answer
    elif status != "ok":
        problems.append(f"{cid}: {status}: {cell.get('error') or cell.get('reason')}")
    print(f"  {status:8} {cid}" + (f"  ({cell['error'][:60]}...)" if cell.get("error") else ""))
if problems:
    print("prompt_triage without a key did not behave as expected:", *problems, sep="\n  ")
    sys.exit(1)
print("ok: without a key only the prompt cells fail (set OPENAI_API_KEY to run them)")
PY
