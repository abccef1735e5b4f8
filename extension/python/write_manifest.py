"""Write notebook.toml after a structural edit made in VS Code (add, delete, move a cell, or a
change of language), through the engine's own writer: unknown keys survive, secrets are
blanked and `updated_at` is bumped exactly as `strata` does it, and a manifest that no longer
parses is never overwritten.

Run with the server's interpreter. stdin: {"directory": str, "cells": [{"id", "file",
"language", "order"}, ...]} in notebook order. stdout: {"written": bool}. Exit 2 with a
message on stderr when the engine refuses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from strata_engine.model.notebook import Cell, NotebookError, load_notebook

from strata_engine.model.saving import save_notebook


def main() -> int:
    request = json.load(sys.stdin)
    try:
        notebook = load_notebook(Path(request["directory"]), read_sources=False)
        existing = {cell.id: cell for cell in notebook.cells}
        cells = []
        for item in request["cells"]:
            cell = existing.get(item["id"]) or Cell(
                id=item["id"], file=item["file"], language=item["language"], order=0.0
            )
            cell.file, cell.language, cell.order = item["file"], item["language"], float(item["order"])
            cells.append(cell)
        notebook.cells = cells
        written = save_notebook(notebook)
    except NotebookError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    json.dump({"written": written}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
