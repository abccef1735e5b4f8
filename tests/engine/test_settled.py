"""A settled notebook's keys kept in .strata/settled.json (run/settled.py): `strata status`
and a fully cached `strata run` answer from it exactly as the full path would, and never
once any input it was derived from changed."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from strata_engine.run import settled

CELLS = {
    "intro": ("markdown", "intro.md", "# Settled\n"),
    "a": ("python", "a.py", "import json\nx = 1\n"),
    "b": ("python", "b.py", "y = x + 1\nprint('y is', y)\n"),
    "c": ("python", "c.py", "z = y * 2\n"),
}


def _notebook(root: Path, extra: str = "") -> Path:
    (root / "cells").mkdir(parents=True)
    lines = ['notebook_id = "settled"', extra, ""]
    for order, (cell_id, (language, file, text)) in enumerate(CELLS.items(), start=1):
        (root / "cells" / file).write_text(text)
        lines += ["[[cells]]", f'id = "{cell_id}"', f'file = "{file}"']
        lines += [f'language = "{language}"', f"order = {order}", ""]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


def _cli(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """A `strata` command in a new process: only what is on disk counts."""
    proc = subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", *args, str(root)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return proc.stdout


def _without_timing(output: str) -> list[str]:
    """The run's lines, its summary without the duration ("4 cells: ... in 0.01s")."""
    return [
        line.rpartition(" in ")[0] if " cells: " in line else line for line in output.splitlines()
    ]


def _settle(root: Path) -> None:
    _cli(root, "run")  # executes, and records what it settled
    assert settled.recall(root, None) is not None


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return _notebook(tmp_path / "nb")


def test_status_and_run_answer_from_the_record_as_the_full_path_does(root: Path) -> None:
    _settle(root)
    record = root / ".strata" / settled.FILE
    record.unlink()
    full_json = json.loads(_cli(root, "run", "--format", "json"))  # fully cached, full path
    assert settled.recall(root, None) is not None  # which recorded again
    quick_json = json.loads(_cli(root, "run", "--format", "json"))  # from the record
    assert quick_json.pop("duration_ms") >= 0 and full_json.pop("duration_ms") >= 0
    assert quick_json == full_json
    record.unlink()
    full_run = _cli(root, "run")  # fully cached, the full path
    record.unlink()
    full_status = json.loads(_cli(root, "status"))
    assert settled.recall(root, None) is not None  # recorded by the status

    quick = settled.settled_states(root, None)
    assert quick is not None
    notebook_id, statuses = quick
    assert {"notebook": notebook_id, "cells": [s.to_json() for s in statuses]} == full_status
    assert json.loads(_cli(root, "status")) == full_status
    assert [c["state"] for c in full_status["cells"]] == ["ready"] * 4

    index = sqlite3.connect(root / ".strata" / "artifacts" / "index.sqlite")
    before = dict(index.execute("SELECT key, use_seq FROM entries").fetchall())
    quick_run = _cli(root, "run")
    assert _without_timing(quick_run) == _without_timing(full_run)
    assert "cached   b" in quick_run and "4 cells: 1 ok, 3 cached" in quick_run
    after = dict(index.execute("SELECT key, use_seq FROM entries").fetchall())
    assert all(after[key] > seq for key, seq in before.items())  # hits marked used
    index.close()
    report = settled.settled_run(root, None)
    assert report is not None and report[0].cells[2].stdout == "y is 2\n"


def _edit_cell(root: Path) -> None:
    (root / "cells" / "a.py").write_text("import json\nx = 2\n")


def _edit_manifest(root: Path) -> None:
    text = (root / "notebook.toml").read_text()
    (root / "notebook.toml").write_text(text.replace('"settled"', '"settled"\n[env]\nK = "1"'))


def _shadow_an_import(root: Path) -> None:
    (root / "json.py").write_text("loads = None\n")  # `import json` in a now reads this


def _drop_the_store(root: Path) -> None:
    shutil.rmtree(root / ".strata" / "artifacts")


def _truncate_a_blob(root: Path) -> None:
    blobs = [p for p in (root / ".strata" / "artifacts").rglob("*") if p.is_file()]
    victim = next(p for p in blobs if p.parent.name != "artifacts" and p.suffix == "")
    victim.write_bytes(b"")


def _link_the_cells(root: Path) -> None:
    (root / "cells").rename(root / "real_cells")
    (root / "cells").symlink_to(root / "real_cells")


@pytest.mark.parametrize(
    "change",
    [_edit_cell, _edit_manifest, _shadow_an_import, _drop_the_store, _link_the_cells],
)
def test_any_changed_input_sends_both_commands_down_the_full_path(
    root: Path, change: object
) -> None:
    _settle(root)
    expected_status = _cli(root, "status")
    assert callable(change)
    change(root)
    assert settled.settled_states(root, None) is None
    assert settled.settled_run(root, None) is None
    if change is _link_the_cells:
        assert _cli(root, "status") == expected_status  # the same notebook, read carefully
    elif change is not _edit_manifest:
        states = {c["id"]: c["state"] for c in json.loads(_cli(root, "status"))["cells"]}
        assert states["c"] in ("stale", "never_run")


def test_a_truncated_blob_is_not_served(root: Path) -> None:
    _settle(root)
    _truncate_a_blob(root)
    assert settled.settled_states(root, None) is None
    assert settled.settled_run(root, None) is None


def test_the_same_bytes_rewritten_keep_the_record(root: Path) -> None:
    _settle(root)
    text = (root / "cells" / "a.py").read_bytes()
    (root / "cells" / "a.py").write_bytes(text)  # new mtime, same content
    assert settled.settled_states(root, None) is not None


def test_the_process_variables_that_decide_packages_and_tools_are_inputs(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATA_WORKER_TOKEN", "s3cret")  # decides nothing here; a secret
    _settle(root)
    quick = _cli(root, "status")
    monkeypatch.delenv("STRATA_WORKER_TOKEN")
    assert settled.recall(root, None) is not None  # it was never an input
    monkeypatch.setenv("PATH", f"{root}:{os.environ['PATH']}")
    assert settled.recall(root, None) is None
    assert _cli(root, "status") == quick  # the full path, the same answer


def test_a_record_this_user_did_not_write_is_not_trusted(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    _settle(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "me"))
    assert settled.recall(root, None) is None


def test_a_tampered_record_is_not_trusted(root: Path) -> None:
    _settle(root)
    path = root / ".strata" / settled.FILE
    head, _, body = path.read_bytes().partition(b"\n")
    record = json.loads(body)
    record["cells"][1][2] = "0" * 32  # another key for a
    path.write_bytes(head + b"\n" + json.dumps(record).encode())
    assert settled.recall(root, None) is None


@pytest.mark.parametrize(
    "text",
    [
        "# @nocache\nz = y * 2\n",  # runs every time
        "import helpers\nz = y * helpers.K\n",  # a project module keys it
        "# @variant g one\nz = y * 2\n",  # a variant member (its selection is more)
    ],
)
def test_notebooks_whose_keys_depend_on_more_are_never_recorded(root: Path, text: str) -> None:
    (root / "helpers.py").write_text("K = 2\n")
    (root / "cells" / "c.py").write_text(text)
    _cli(root, "run")
    _cli(root, "run")
    _cli(root, "status")
    assert (root / ".strata").is_dir() and not (root / ".strata" / settled.FILE).exists()


def test_an_entry_replaced_under_the_same_key_is_noticed(root: Path) -> None:
    """Keys downstream were computed from the outputs' digests: another result stored under
    a's key (a run of a nondeterministic cell after its entry was collected) changes them."""
    _settle(root)
    record = settled.recall(root, None)
    assert record is not None
    key_a, key_c = (next(c.key for c in record.cells if c.id == i) for i in ("a", "c"))
    index = sqlite3.connect(root / ".strata" / "artifacts" / "index.sqlite")
    with index:
        (outputs_c,) = index.execute("SELECT outputs FROM entries WHERE key = ?", (key_c,))
        index.execute("UPDATE entries SET outputs = ? WHERE key = ?", (outputs_c[0], key_a))
    index.close()
    assert settled.settled_states(root, None) is None
    assert settled.settled_run(root, None) is None


def test_a_store_path_that_resolves_elsewhere_now_is_noticed(root: Path, tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (root / "store").symlink_to(tmp_path / "one")
    manifest = (
        (root / "notebook.toml")
        .read_text()
        .replace(
            'notebook_id = "settled"', 'notebook_id = "settled"\n[cache]\nstore = "store/cache"'
        )
    )
    (root / "notebook.toml").write_text(manifest)
    (root / ".strata").mkdir()  # records go only where .strata/ exists (the store is elsewhere)
    _settle(root)
    (root / "store").unlink()
    (tmp_path / "two").mkdir()
    (root / "store").symlink_to(tmp_path / "two")
    assert settled.settled_states(root, None) is None  # nothing there now
    states = {c["id"]: c["state"] for c in json.loads(_cli(root, "status"))["cells"]}
    assert states["a"] == "never_run"


def test_runs_of_the_editors_unsaved_text_record_nothing(root: Path) -> None:
    """The editor runs its unsaved text (overrides): keys of text that is not on disk."""
    from strata_engine.run.session import Session

    with Session(root) as session:
        report = session.run(overrides={"c": "z = y * 3\n"})
    assert report.success
    assert not (root / ".strata" / settled.FILE).exists()
    (root / "cells" / "c.py").write_text("z = y * 3\n")
    with Session(root) as session:
        assert session.run().success
    assert settled.recall(root, None) is not None


def test_a_failed_run_records_nothing(root: Path) -> None:
    (root / "cells" / "c.py").write_text("z = y / 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", "run", str(root)], capture_output=True
    )
    assert proc.returncode == 1
    assert not (root / ".strata" / settled.FILE).exists()


@pytest.mark.parametrize("edited", ["notebook.toml", "cells/c.py"])
def test_files_edited_during_a_run_are_not_bound_to_its_keys(root: Path, edited: str) -> None:
    from strata_engine.run.session import Session

    with Session(root) as session:
        snapshot = session.snapshot()
        path = root / edited
        path.write_text(path.read_text() + "\n# edited while it ran\n")
        assert session.run(snapshot=snapshot).success
    assert not (root / ".strata" / settled.FILE).exists()


def test_a_package_installed_while_it_ran_is_not_bound_to_its_keys(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keys were made under the environment the run started with; the record must not
    name the one after a `pip install` during the run."""
    from strata_engine.run.session import Session

    monkeypatch.setattr(settled, "environment_fingerprint", lambda: "after an install")
    with Session(root) as session:
        assert session.run().success
    assert not (root / ".strata" / settled.FILE).exists()


def test_a_copy_with_its_store_answers_from_its_own_store(root: Path, tmp_path: Path) -> None:
    """A notebook copied with its .strata/ (a run-mode copy, a backup): the record names the
    store as written, so the copy never reads or marks the original's entries."""
    _settle(root)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, symlinks=True)
    shutil.rmtree(root / ".strata" / "artifacts")
    record = settled.recall(copy, None)
    assert record is not None and record.store == str(copy / ".strata" / "artifacts")
    assert settled.settled_states(copy, None) is not None
    assert settled.settled_states(root, None) is None
