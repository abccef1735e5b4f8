#!/usr/bin/env bash
# R cells (SPEC 3, 9; issue [8]): R from Debian (r-base-core, r-cran-ggplot2, r-cran-jsonlite)
# and rpy2 from PyPI into .venv. rpy2 builds against the R it finds, so R must be installed
# first; that is why rpy2 is not in server/pyproject.toml's dev extra (users: the `r` extra).
# CRAN is not used: every R package comes from Debian.
# Idempotent: apt runs only when R or a package is missing, pip only when rpy2 is not the
# tested version.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PIP_DISABLE_PIP_VERSION_CHECK=1

RPY2_VERSION=3.5.17  # 3.6.x needs the R 4.5 C API (R_getVar); Debian 12 has R 4.2
# libblas-dev: rpy2 links its compiled (API mode) interface with -lblas, as R was built.
DEBIAN_PACKAGES="r-base-core r-cran-ggplot2 r-cran-jsonlite libblas-dev"

missing=""
for pkg in $DEBIAN_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "setup-r: installing$missing from Debian" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    $missing >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup-r: run scripts/setup.sh first (no .venv)" >&2
  exit 2
fi
have="$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("rpy2"))' \
  2>/dev/null || true)"
if [ "$have" != "$RPY2_VERSION" ]; then
  echo "setup-r: installing rpy2==$RPY2_VERSION into .venv" >&2
  .venv/bin/python -m pip install -q "rpy2==$RPY2_VERSION"
fi
