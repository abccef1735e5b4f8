#!/usr/bin/env bash
# The extension's checks: TypeScript (strict) and eslint, the mocha suites inside a real VS Code
# (the VS Code server from the code-server package, driven by headless Chromium), the
# Playwright UI test (screenshots in test-output/), and the packaged .vsix installed into a
# fresh VS Code, where its first start installs the server for real.
# Needs scripts/setup.sh and scripts/setup-editor.sh first (scripts/test.sh runs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=editor-env.sh
source scripts/editor-env.sh

bash scripts/build-extension.sh
echo "== eslint (extension)"
(cd extension && npx --no-install eslint --max-warnings 0 .)

export STRATA_VSCODE_SERVER_MAIN="$strata_editor_modules/code-server/lib/vscode/out/server-main.js"
export STRATA_CODE_SERVER="$strata_editor_modules/.bin/code-server"
export STRATA_SERVER_PYTHON="$root/.venv/bin/python"
export STRATA_TEST_OUTPUT="$root/test-output"
export STRATA_VSIX="$root/extension/strata-notebooks.vsix"
mkdir -p "$STRATA_TEST_OUTPUT"

# Each stage fails the script on its own (set -e); the counts make one closing line for CI.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "== extension integration tests (mocha inside VS Code)"
node extension/test/e2e/run-integration.mjs 2>&1 | tee "$log"
mocha_passed="$(sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' "$log" | tail -n 1)"
stages=1
echo "== extension UI test (Playwright; screenshots in test-output/, the README's in docs/images/)"
# The README's screenshots are refreshed on every run so they stay current; set
# STRATA_DOCS_IMAGES= (empty) to leave docs/images/ alone.
STRATA_DOCS_IMAGES="${STRATA_DOCS_IMAGES-$root/docs/images}" node extension/test/e2e/run-ui.mjs
stages=$((stages + 1))
if [ "${STRATA_SKIP_PACKAGED_TEST:-}" != "1" ]; then
  echo "== packaged extension: install the .vsix, first start installs the server"
  node extension/test/e2e/run-packaged.mjs
  stages=$((stages + 1))
fi
echo "extension: $(( ${mocha_passed:-0} + stages - 1 )) passed, 0 failed"
