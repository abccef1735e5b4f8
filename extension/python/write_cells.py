"""Write and delete cell files for a save made in VS Code, by the engine's rules: a path must
resolve inside cells/ (symlinks resolved, no `..`, not absolute), and writes are atomic and
keep the file's mode. The extension decides what changed; the rules live here only.

Run with the server's interpreter. stdin: {"directory": str, "write": [{"id", "file", "text"},
...], "remove": [file, ...]} (files relative to cells/). stdout: {"written": [id, ...]} (cells
whose bytes changed). Exit 2 with a message on stderr, before touching any file, when a path
is refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from strata_engine.model.fsutil import atomic_write
from strata_engine.model.notebook import resolve_cell_path


def main() -> int:
    request = json.load(sys.stdin)
    directory = Path(request["directory"])
    writes, removals, refused = [], [], []
    for item in request.get("write", []):
        target = resolve_cell_path(directory, item["file"])
        if target is None:
            cell, file = item["id"], item["file"]
            refused.append(f"cell {cell!r}: refusing to write {file!r} outside cells/")
        else:
            writes.append((item["id"], target, item["text"].encode("utf-8")))
    for file in request.get("remove", []):
        target = resolve_cell_path(directory, file)
        if target is None:
            refused.append(f"refusing to delete {file!r} outside cells/")
        else:
            removals.append(target)
    if refused:
        print("; ".join(refused), file=sys.stderr)
        return 2
    written = []
    for cell_id, target, data in writes:
        if not target.is_file() or target.read_bytes() != data:
            atomic_write(target, data)
            written.append(cell_id)
    for target in removals:
        target.unlink(missing_ok=True)
    json.dump({"written": written}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
