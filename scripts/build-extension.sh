#!/usr/bin/env bash
# Compiles the extension and packages it: extension/strata-notebooks.vsix, holding the compiled
# extension, its runtime npm dependencies and the server sources (server/ without caches or
# build metadata), which the extension installs into its own environment on first start.
# Needs scripts/setup-editor.sh first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=editor-env.sh
source scripts/editor-env.sh

echo "== build the extension" >&2
rm -rf extension/out
(cd extension && npx --no-install tsc -p .)

echo "== package the extension" >&2
rm -rf extension/server
mkdir -p extension/server
# Only what `pip install server[lsp]` needs: the sources and pyproject.toml.
(cd server && find . -type f \( -name '*.py' -o -name 'pyproject.toml' -o -name 'py.typed' \) \
  -not -path '*/__pycache__/*' -not -path '*/.mypy_cache/*' -not -path '*.egg-info/*' -print0 |
  tar --null -T - -cf -) | tar -xf - -C extension/server
(cd extension && npx --no-install vsce package --no-update-package-json --skip-license --out strata-notebooks.vsix)
echo "packaged $root/extension/strata-notebooks.vsix" >&2
