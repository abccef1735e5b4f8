#!/usr/bin/env bash
# The main job: set up, then run the sample notebooks headlessly (twice: the second run is
# served from the cache).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
for sample in quickstart expensive; do
  echo "== strata run samples/$sample"
  .venv/bin/strata run "samples/$sample"
  echo "== again (cached)"
  .venv/bin/strata run "samples/$sample"
done
