#!/usr/bin/env bash
# Installs the ORIGINAL Strata (PyPI strata-notebook) into .tools/strata-original/, so
# tests/engine/test_interop_original.py can run its real `strata-worker` against our engine
# and its own executor client against our `strata worker` (SPEC 13, issue [5]).
# The original's strata-worker refuses to start outside a uv-managed environment, so the venv
# is made by uv (installed with pip into .tools/uv/) on a Python 3.12 already on the machine;
# uv never downloads an interpreter. Idempotent: a stamp records what was installed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export UV_PYTHON_DOWNLOADS=never PIP_DISABLE_PIP_VERSION_CHECK=1

STRATA_NOTEBOOK_VERSION=0.11.0   # the version the interop tests were written against
UV_VERSION=0.13.9
# The worker runs cells in its own environment: its harness needs orjson and cloudpickle
# (strata-notebook's "notebook" extra, minus matplotlib and pillow), the tests' cells pandas.
WORKLOAD="pandas==3.1.1 orjson==3.13.0 cloudpickle==3.1.3"
tools=.tools
uv_home="$tools/uv"
venv="$tools/strata-original"
stamp="$venv/.strata-interop-installed"
want="strata-notebook==$STRATA_NOTEBOOK_VERSION $WORKLOAD uv==$UV_VERSION"

if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ -x "$venv/bin/strata-worker" ]; then
  exit 0
fi

find_python312() {
  local candidate
  # Highest patch release first; pyenv's layout on the CI machine and here.
  for candidate in $(ls -d /root/.pyenv/versions/3.12.*/bin/python 2>/dev/null | sort -rV); do
    if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  candidate="$(command -v python3.12 2>/dev/null || true)"
  if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12)' \
      >/dev/null 2>&1; then
    echo "$candidate"; return 0
  fi
  return 1
}

python312="${STRATA_INTEROP_PYTHON:-}"
if [ -z "$python312" ]; then
  if ! python312="$(find_python312)"; then
    echo "setup-interop: no Python 3.12 found (looked for /root/.pyenv/versions/3.12.*/bin/python" \
      "and python3.12 on PATH); the original Strata needs one. Install Python 3.12 or set" \
      "STRATA_INTEROP_PYTHON to its path." >&2
    exit 2
  fi
fi

base_python=".venv/bin/python"
if [ ! -x "$base_python" ]; then
  base_python="$(command -v python3)"
fi
mkdir -p "$tools"
if [ ! -x "$uv_home/bin/uv" ] || [ "$("$uv_home/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "setup-interop: installing uv $UV_VERSION into $uv_home" >&2
  rm -rf "$uv_home"
  "$base_python" -m venv "$uv_home"
  "$uv_home/bin/python" -m pip install -q "uv==$UV_VERSION"
fi

echo "setup-interop: creating $venv on $python312 with strata-notebook $STRATA_NOTEBOOK_VERSION" >&2
rm -rf "$venv"
"$uv_home/bin/uv" venv -q --python "$python312" "$venv"
VIRTUAL_ENV="$venv" "$uv_home/bin/uv" pip install -q --python "$venv/bin/python" \
  "strata-notebook==$STRATA_NOTEBOOK_VERSION" $WORKLOAD
"$venv/bin/strata-worker" --help >/dev/null
echo "$want" > "$stamp"
echo "setup-interop: ready ($venv/bin/strata-worker)" >&2
