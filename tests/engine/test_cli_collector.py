"""`strata status` and `strata run` pause cyclic garbage collection while the notebook is
loaded and analyzed (cli._collector_paused) and hand the collector back as they found it."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NotebookFactory

from strata_engine.cli import main


@pytest.fixture
def collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_found(
    make_notebook: NotebookFactory,
    capsys: pytest.CaptureFixture[str],
    collector_restored: None,
    enabled: bool,
) -> None:
    nb: Path = make_notebook({"a": "x = 1\n", "b": "y = x + 1\n"})
    (gc.enable if enabled else gc.disable)()
    assert main(["run", str(nb), "--quiet"]) == 0
    assert gc.isenabled() is enabled
    capsys.readouterr()
    assert main(["status", str(nb)]) == 0
    assert gc.isenabled() is enabled
    status = json.loads(capsys.readouterr().out)
    assert [c["state"] for c in status["cells"]] == ["ready", "ready"]
