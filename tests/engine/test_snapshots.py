"""`strata freeze` / `strata verify` (SPEC 12): the lock, a scratch re-execution, reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import NotebookFactory

from strata_engine.cli import main

DETERMINISTIC = {
    "a": "x = 21\n",
    "b": "y = x * 2\nrows = [y, y + 1]\n",
    "notes.md": "# Notes\n",
}


def _run(directory: Path) -> None:
    assert main(["run", str(directory), "--quiet"]) == 0


def _verify(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main(["verify", str(directory), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def _cells(report: dict[str, object]) -> dict[str, dict[str, object]]:
    cells = report["cells"]
    assert isinstance(cells, list)
    return {c["id"]: c for c in cells}


def test_freeze_refuses_cells_that_are_not_ready(
    make_notebook: NotebookFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = make_notebook(DETERMINISTIC)
    assert main(["freeze", str(nb)]) == 1
    err = capsys.readouterr().err
    assert "a (never_run)" in err and "b (never_run)" in err and "strata run" in err
    assert not (nb / "strata.lock").exists()


def test_freeze_writes_a_deterministic_lock(
    make_notebook: NotebookFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = make_notebook(DETERMINISTIC)
    _run(nb)
    assert main(["freeze", str(nb)]) == 0
    first = json.loads((nb / "strata.lock").read_text())
    assert set(first["cells"]) == {"a", "b"}  # markdown has nothing to lock
    b = first["cells"]["b"]
    assert set(b["outputs"]) == {"y", "rows"}
    assert b["outputs"]["y"]["content_type"] and len(b["outputs"]["y"]["digest"]) > 16
    assert b["key"] and b["environment"] and first["environment"] and first["frozen_at"]
    assert main(["freeze", str(nb)]) == 0
    second = json.loads((nb / "strata.lock").read_text())
    first.pop("frozen_at"), second.pop("frozen_at")
    assert first == second
    text = (nb / "strata.lock").read_text()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_deterministic_notebook_verifies_identical_in_a_scratch_store(
    make_notebook: NotebookFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = make_notebook(DETERMINISTIC)
    _run(nb)
    assert main(["freeze", str(nb)]) == 0
    index = nb / ".strata" / "artifacts"
    before = sorted(p.name for p in index.rglob("*"))
    code, report = _verify(nb, capsys)
    assert code == 0, report
    cells = _cells(report)
    assert report["identical"] is True
    assert cells["b"]["status"] == "identical" and cells["b"]["key_matches"] is True
    assert cells["b"]["outputs"] == {"rows": "identical", "y": "identical"}
    assert sorted(p.name for p in index.rglob("*")) == before  # the notebook's store untouched


def test_unseeded_random_differs_with_reason_nondeterminism(
    make_notebook: NotebookFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = make_notebook({"a": "x = 1\n", "r": "import random\nnoise = random.random()\n"})
    _run(nb)
    assert main(["freeze", str(nb)]) == 0
    code, report = _verify(nb, capsys)
    assert code == 1
    r = _cells(report)["r"]
    assert r["status"] == "differs" and r["reason"] == "nondeterminism"
    assert r["key_matches"] is True and r["outputs"]["noise"] == "differs"
    assert r["outputs"]["random"] == "identical"  # the module is stored by name
    assert _cells(report)["a"]["status"] == "identical"


def test_edited_cell_differs_because_its_key_changed_and_downstream_follows(
    make_notebook: NotebookFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = make_notebook(DETERMINISTIC | {"c": "z = len(rows)\n"})
    _run(nb)
    assert main(["freeze", str(nb)]) == 0
    (nb / "cells" / "a.py").write_text("x = 22\n")
    code, report = _verify(nb, capsys)
    assert code == 1
    cells = _cells(report)
    assert cells["a"]["reason"] == "key_changed" and cells["a"]["key_matches"] is False
    assert cells["b"]["reason"] == "upstream" and "a" in cells["b"]["message"]
    # c read `rows` of a different b, but its own output is bit-identical.
    assert cells["c"]["status"] == "identical" and cells["c"]["key_matches"] is False


def test_cell_added_after_the_freeze_is_missing(
    make_notebook: NotebookFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = make_notebook({"a": "x = 1\n"})
    _run(nb)
    assert main(["freeze", str(nb)]) == 0
    with (nb / "notebook.toml").open("a") as manifest:
        manifest.write('[[cells]]\nid = "late"\nfile = "late.py"\nlanguage = "python"\norder = 9\n')
    (nb / "cells" / "late.py").write_text("w = x + 1\n")
    code, report = _verify(nb, capsys)
    assert code == 1
    late = _cells(report)["late"]
    assert late["status"] == "missing" and late["outputs"] == {"w": "not_locked"}


def test_verify_without_a_lock_names_the_fix(
    make_notebook: NotebookFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = make_notebook({"a": "x = 1\n"})
    assert main(["verify", str(nb)]) == 2
    assert "strata freeze" in capsys.readouterr().err


def test_another_environment_with_identical_outputs_verifies_and_says_so(
    make_notebook: NotebookFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lock made on another machine: its fingerprints differ (other distributions)."""
    nb = make_notebook({"a": "x = 1\n", "r": "import random\nnoise = random.random()\n"})
    _run(nb)
    assert main(["freeze", str(nb)]) == 0
    lock = json.loads((nb / "strata.lock").read_text())
    for cell in lock["cells"].values():
        cell["environment"] = "another-machine"
    (nb / "strata.lock").write_text(json.dumps(lock))
    code, report = _verify(nb, capsys)
    cells = _cells(report)
    assert cells["a"]["status"] == "identical" and cells["a"]["environment_matches"] is False
    assert cells["r"]["reason"] == "environment" and code == 1
    capsys.readouterr()
    main(["verify", str(nb)])
    assert "identical  a (environment differs)" in capsys.readouterr().out


def test_a_frozen_notebook_shows_what_the_lock_pins_even_when_the_key_moved(
    make_notebook: NotebookFactory,
) -> None:
    from strata_engine.run.session import Session
    from strata_engine.snapshots.shown import shown_entries

    nb = make_notebook(DETERMINISTIC)
    _run(nb)
    assert main(["freeze", str(nb)]) == 0
    lock = json.loads((nb / "strata.lock").read_text())
    (nb / "cells" / "a.py").write_text("x = 22\n")  # a's current key is not the lock's now
    with Session(nb) as session:
        states = session.states()
        assert states["a"].state == "stale" and states["a"].entry is None
        shown = shown_entries(nb, states, session.entry)
        pinned = {name: v.digest for name, v in shown["a"].outputs.items()}
        assert pinned == {n: o["digest"] for n, o in lock["cells"]["a"]["outputs"].items()}
        assert shown["a"].key == lock["cells"]["a"]["key"]
        (nb / "strata.lock").unlink()  # unfrozen: only current results are shown
        assert "a" not in shown_entries(nb, states, session.entry)
