#!/usr/bin/env bash
# Runs this sample against a dask cluster on loopback, headlessly: starts a dask scheduler on
# 127.0.0.1:8791 (the address notebook.toml declares) with two worker processes of one thread
# each (a dask worker process runs one cell at a time, so two let the two cluster cells run
# together), runs the notebook twice (the second run is served from the cache), checks what
# it printed, and stops the cluster whenever this script ends.
#   STRATA_DASK_PORT   scheduler port (default 8791; another one means editing notebook.toml)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.venv/bin"
port="${STRATA_DASK_PORT:-8791}"
scheduler="tcp://127.0.0.1:$port"

log="$(mktemp -t strata-dask.XXXXXX.log)"
out="$(mktemp -t strata-dask-run.XXXXXX.json)"
pids=()
stop_cluster() {
  # Workers first, so none of them spends its shutdown looking for the scheduler.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -f "$log" "$out"
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM

echo "== dask scheduler on $scheduler, 2 worker processes x 1 thread"
"$bin/dask" scheduler --host 127.0.0.1 --port "$port" --no-dashboard >>"$log" 2>&1 &
pids+=($!)
"$bin/dask" worker "$scheduler" --host 127.0.0.1 --nworkers 2 --nthreads 1 --no-dashboard \
  >>"$log" 2>&1 &
pids+=($!)
if ! "$bin/python" - "$scheduler" "${pids[@]}" <<'PY'
import os, sys
from distributed import Client

scheduler, pids = sys.argv[1], [int(p) for p in sys.argv[2:]]
try:
    # Bounded: a cluster that does not come up fails the script instead of hanging it.
    with Client(scheduler, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
except Exception as exc:
    print(f"no dask cluster with 2 workers at {scheduler}: {exc}", file=sys.stderr)
    sys.exit(1)
for pid in pids:
    os.kill(pid, 0)  # both launchers still up
PY
then
  echo "the dask cluster did not start on $scheduler:" >&2
  cat "$log" >&2
  exit 2
fi

echo "== strata run samples/dask_cluster"
"$bin/strata" run "$here"
echo "== again (cached), checked"
"$bin/strata" run "$here" --format json >"$out" || { cat "$out"; exit 1; }
"$bin/python" - "$out" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))
cells = {cell["id"]: cell for cell in report["cells"]}
assert report["success"], report
for cell in ("sales", "by_region", "by_product", "report"):
    assert cells[cell]["cache_hit"], f"{cell} was not served from the cache"
assert cells["by_region"]["stdout"].startswith("48 region-months in process "), cells
assert cells["by_product"]["stdout"].startswith("5 products in process "), cells
assert cells["report"]["stdout"].startswith("best region: "), cells
print("dask_cluster: ok (both cluster cells ran on the cluster, the re-run was all hits)")
PY
