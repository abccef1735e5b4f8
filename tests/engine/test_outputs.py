"""What a user sees from a run: displays of the quickstart sample and their replay on hits."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable
from pathlib import Path

from strata_engine.run.events import CellRun
from strata_engine.run.session import Session

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def quickstart_runs(tmp_path: Path, open_session: Callable[[Path], Session]) -> list[CellRun]:
    target = tmp_path / "quickstart"
    shutil.copytree(
        ROOT / "samples" / "quickstart", target, ignore=shutil.ignore_patterns(".strata")
    )
    session = open_session(target)
    first = session.run("all").cells
    assert all(c.status == "ok" for c in first), [c.error for c in first]
    return first + session.run("all").cells


def test_quickstart_displays_and_their_replay(
    tmp_path: Path, open_session: Callable[[Path], Session]
) -> None:
    runs = quickstart_runs(tmp_path, open_session)
    first, second = runs[: len(runs) // 2], runs[len(runs) // 2 :]
    for cells in (first, second):
        by_id = {c.id: c for c in cells}
        head = by_id["load_data"].displays
        assert len(head) == 1 and "<table" in head[0]["text/html"]
        assert "text/plain" in head[0]
        (plot,) = by_id["plot"].displays
        assert base64.b64decode(plot["image/png"]).startswith(PNG_MAGIC)
        (summary,) = by_id["summary"].displays
        assert summary["text/markdown"].startswith("**Total revenue:**")
        assert by_id["clean"].stdout.startswith("kept ")
    assert not any(c.executed for c in second)
