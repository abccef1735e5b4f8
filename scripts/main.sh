#!/usr/bin/env bash
# The main job: set up, run the sample notebooks headlessly (twice: the second run is served
# from the cache), then build the VS Code extension (.vsix), install it into code-server and
# serve VS Code in the browser on 127.0.0.1 with samples/ open, until Ctrl-C. A `strata worker`
# on 127.0.0.1:8790 (the URL samples/remote_worker declares) runs for as long as this script.
#   STRATA_PORT         port to serve on (default: 8765, or the next free one)
#   STRATA_NO_SERVE=1   stop after building and installing the extension
#   STRATA_MANAGED_SERVER=1  let the extension install its own server environment (as a user's
#                       first start does) instead of using this checkout's .venv
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# R cells: R from Debian and rpy2 into .venv (samples/r_bridge).
bash scripts/setup-r.sh

# The worker samples/remote_worker sends its `# @worker remote` cell to. Its port is fixed
# because the notebook's [[workers]] entry names it; stopped whenever this script ends.
worker_port=8790
worker_log="$(mktemp -t strata-worker.XXXXXX.log)"
.venv/bin/strata worker --host 127.0.0.1 --port "$worker_port" >"$worker_log" 2>&1 &
worker_pid=$!
stop_worker() {
  kill "$worker_pid" 2>/dev/null || true
  wait "$worker_pid" 2>/dev/null || true
  rm -f "$worker_log"
}
trap stop_worker EXIT
trap 'exit 130' INT TERM
echo "== strata worker on http://127.0.0.1:$worker_port (pid $worker_pid)"
if ! .venv/bin/python - "$worker_port" "$worker_pid" <<'PY'
import json, os, sys, time, urllib.request
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 30  # bounded: a worker that never answers fails the script
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)  # gone (e.g. the port is taken): stop polling at once
    except ProcessLookupError:
        sys.exit(1)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            if json.load(response).get("status") == "healthy":
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
then
  echo "strata worker did not become healthy on 127.0.0.1:$worker_port:" >&2
  cat "$worker_log" >&2
  exit 2
fi

for sample in quickstart expensive remote_worker; do
  echo "== strata run samples/$sample"
  .venv/bin/strata run "samples/$sample"
  echo "== again (cached)"
  .venv/bin/strata run "samples/$sample"
done
# Cell tests (cells/<id>.test.py) against the cached results: runs no cell.
echo "== strata test samples/quickstart"
.venv/bin/strata test samples/quickstart
# Starts its own dask cluster on 127.0.0.1:8791, runs the sample twice, checks it, stops it.
bash samples/dask_cluster/main.sh
# Prompt cells need an API key: without one this checks they fail clearly and alone.
bash samples/prompt_triage/main.sh
# SQL cells on SQLite and DuckDB (no server needed); a loop with @loop_until and start_from.
bash samples/sql_orders/main.sh
bash samples/hill_climb/main.sh
# Three scikit-learn regressors in a sweep variant group, scored per member, compared.
bash samples/model_variants/main.sh
# A notebook with its own pyproject.toml: strata run creates and syncs its .venv with uv.
bash samples/isolated_env/main.sh
# A pandas frame summarized in R with a ggplot2 plot, the result used again in Python.
bash samples/r_bridge/main.sh

echo "== editor tooling (Node 24, Chromium, code-server)"
bash scripts/setup-editor.sh
bash scripts/build-extension.sh
# shellcheck source=editor-env.sh
source scripts/editor-env.sh
profile="$root/.tools/code-server"
code_server=("$strata_editor_modules/.bin/code-server" --config "$profile/config.yaml"
  --user-data-dir "$profile/user-data" --extensions-dir "$profile/extensions")
# A quiet profile: no AI panel, no welcome page, nothing reaching for the network.
if [ ! -f "$profile/user-data/User/settings.json" ]; then
  mkdir -p "$profile/user-data/User"
  cat > "$profile/user-data/User/settings.json" <<'JSON'
{
  "chat.disableAIFeatures": true,
  "workbench.startupEditor": "none",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "telemetry.telemetryLevel": "off"
}
JSON
fi
echo "== install extension/strata-notebooks.vsix into code-server"
"${code_server[@]}" --install-extension extension/strata-notebooks.vsix --force
[ "${STRATA_NO_SERVE:-}" = "1" ] && exit 0

port="$(.venv/bin/python - "${STRATA_PORT:-8765}" <<'PY'
import socket, sys
port = int(sys.argv[1])
while True:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            break
        except OSError:
            port += 1
print(port)
PY
)"
if [ "${STRATA_MANAGED_SERVER:-}" != "1" ]; then
  export STRATA_SERVER_PYTHON="$root/.venv/bin/python"
fi
echo
echo "Strata for VS Code is served at  http://127.0.0.1:$port/?folder=$root/samples"
echo "(open a notebook.toml in the Explorer; Ctrl-C stops the server)"
echo
# Loopback only, and the folder is this checkout's own samples: no login, no trust prompt.
# Not exec'd: the worker's trap must still stop it when the editor server ends.
"${code_server[@]}" --auth none --bind-addr "127.0.0.1:$port" --disable-telemetry \
  --disable-update-check --disable-workspace-trust --ignore-last-opened "$root/samples"
