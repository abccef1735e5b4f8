#!/usr/bin/env bash
# Same-session comparison of this checkout against an earlier commit, for "no regression"
# claims: the CLI and language-server benchmarks run interleaved (base, head, base, head) so
# both sides see the same machine. Prints the rows of each run.
#   bash bench/compare_with.sh REV [ROUNDS]
# The base runs from a temporary worktree with this checkout's .venv (PYTHONPATH wins over
# the editable install), so its dependencies must be compatible.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rev="${1:?usage: compare_with.sh REV [ROUNDS]}"
rounds="${2:-2}"
py="$root/.venv/bin/python"
base="$(mktemp -d /tmp/strata-base-XXXXXX)"
trap 'git -C "$root" worktree remove --force "$base" >/dev/null 2>&1 || true' EXIT
git -C "$root" worktree add -q --detach "$base" "$rev"
unset PYTHONDONTWRITEBYTECODE  # users' interpreters cache bytecode
for round in $(seq 1 "$rounds"); do
  for side in base head; do
    if [ "$side" = base ]; then dir="$base"; else dir="$root"; fi
    echo "### $side ($([ "$side" = base ] && echo "$rev" || git -C "$root" rev-parse --short HEAD)), round $round"
    (cd "$dir" && PYTHONPATH="$dir/server" "$py" bench/bench_cli.py --repeat 5 | grep -E '^\| (samples|7-cell)|Synthetic')
    (cd "$dir" && PYTHONPATH="$dir/server" "$py" bench/bench_lsp.py | grep -E '^\| (round trip, all|server-side)')
  done
done
