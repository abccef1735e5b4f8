#!/usr/bin/env bash
# The whole test suite: lint, format check, strict typing, then pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check server tests bench
.venv/bin/ruff format --check server tests bench
echo "== mypy --strict"
(cd server && ../.venv/bin/mypy strata_engine strata_lsp)
echo "== pytest"
.venv/bin/python -m pytest -q "$@"
