"""A warm `strata status` (records in .strata/: the manifest's parse, stored analyses) sees
every change that must change a state: an edited cell, an edited upstream, the environment
a cell reads, a mount's data and its declaration, and damaged records are never trusted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from strata_engine.analysis.stored import FILE as ANALYSES
from strata_engine.cli import main
from strata_engine.model import manifest_file
from strata_engine.model.manifest_cache import FILE as MANIFEST_RECORD

CELLS = {
    "a": "x = 1\n",
    "b": "# reads the rate\nimport os\ny = x + int(os.environ.get('RATE', '0'))\n",
    "c": "n = len(list(data.iterdir()))\n",
    "d": "z = y * 2\n",
}


def _manifest(root: Path, *, rate: str, data: Path) -> None:
    lines = ['notebook_id = "warm"', "[env]", f'RATE = "{rate}"', ""]
    lines += ["[[mounts]]", 'name = "data"', f'uri = "file://{data}"', 'mode = "ro"', ""]
    for order, cell_id in enumerate(CELLS, start=1):
        lines += ["[[cells]]", f'id = "{cell_id}"', f'file = "{cell_id}.py"', f"order = {order}"]
    (root / "notebook.toml").write_text("\n".join(lines) + "\n")


def _status(root: Path) -> dict[str, Any]:
    """`strata status` in a new process: only what is on disk (no memo of this one)."""
    proc = subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", "status", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    cells = json.loads(proc.stdout)["cells"]
    return {c["id"]: (c["state"], sorted(r["reason"] for r in c["reasons"])) for c in cells}


def _run(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest_file._checked.clear()
    assert main(["run", str(root), "--quiet"]) == 0
    capsys.readouterr()


READY = ("ready", [])


def test_warm_status_sees_every_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, data, other = tmp_path / "nb", tmp_path / "data", tmp_path / "other"
    for directory in (root / "cells", data, other):
        directory.mkdir(parents=True)
    (data / "one.csv").write_text("1\n")
    (other / "one.csv").write_text("1\n")
    for cell_id, text in CELLS.items():
        (root / "cells" / f"{cell_id}.py").write_text(text)
    _manifest(root, rate="1", data=data)
    _run(root, capsys)
    assert (root / ".strata" / MANIFEST_RECORD).is_file()
    assert (root / ".strata" / ANALYSES).is_file()
    assert _status(root) == dict.fromkeys(CELLS, READY)

    (root / "cells" / "a.py").write_text("x = 2\n")  # edited source, and b's upstream
    assert _status(root) == {
        "a": ("stale", ["source_changed"]),
        "b": ("stale", ["upstream_changed"]),
        "c": READY,
        "d": ("stale", ["upstream_changed"]),
    }
    _run(root, capsys)

    _manifest(root, rate="2", data=data)  # the environment b reads, through notebook.toml
    assert _status(root) == {
        "a": READY,
        "b": ("stale", ["env_changed"]),
        "c": READY,
        "d": ("stale", ["upstream_changed"]),
    }
    _run(root, capsys)

    (data / "two.csv").write_text("2\n")  # the mount's data
    assert _status(root)["c"] == ("stale", ["mount_changed"])
    _run(root, capsys)
    _manifest(root, rate="2", data=other)  # the mount's declaration (old and new differ)
    state, reasons = _status(root)["c"]
    assert state == "stale" and set(reasons) == {"mount_changed"}
    _run(root, capsys)
    assert _status(root) == dict.fromkeys(CELLS, READY)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_records_change_no_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    root, data = tmp_path / "nb", tmp_path / "data"
    for directory in (root / "cells", data):
        directory.mkdir(parents=True)
    for cell_id, text in CELLS.items():
        (root / "cells" / f"{cell_id}.py").write_text(text)
    _manifest(root, rate="1", data=data)
    _run(root, capsys)
    (root / "cells" / "a.py").write_text("x = 3\n")
    expected = _status(root)
    for name in (MANIFEST_RECORD, ANALYSES):
        record = root / ".strata" / name
        good = record.read_bytes()
        spoiled = {"truncate": good[: len(good) // 3], "garbage": b"\x00{[", "empty": b""}
        record.write_bytes(spoiled[damage])
    assert _status(root) == expected
    assert json.loads((root / ".strata" / ANALYSES).read_bytes())  # rewritten whole
    manifest_text = (root / "notebook.toml").read_text()
    from strata_engine.model import manifest_cache

    assert manifest_cache.load(root / ".strata", manifest_text) is not None
