"""The real server with a fault injected into the engine's per-cell analysis: any cell whose
text contains CRASH_ME makes `analyze_cell` raise, as a bug in the analysis would."""

from __future__ import annotations

from typing import Any

import strata_engine.analysis.stored as stored
from strata_lsp.__main__ import main

# Snapshots analyze each cell through analysis/stored.py (which keeps clean analyses on disk).
_real = stored.analyze_cell


def _faulty(language: str, text: str, **kwargs: Any) -> Any:
    if "CRASH_ME" in text:
        raise RuntimeError("injected analysis fault")
    return _real(language, text, **kwargs)


stored.analyze_cell = _faulty  # type: ignore[assignment]

if __name__ == "__main__":
    raise SystemExit(main())
