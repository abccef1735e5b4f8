"""notebook.toml's parse kept in .strata/manifest.json (model/manifest_cache.py).

The record is used only for the exact text it was made from, and a damaged record is
ignored and rewritten, never trusted."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from strata_engine.model import manifest_cache, manifest_file
from strata_engine.model.manifest_cache import FILE
from strata_engine.model.notebook import NotebookParseError, load_notebook
from strata_engine.run.session import Session


def _write(root: Path, cells: dict[str, str], extra: str = "") -> Path:
    (root / "cells").mkdir(parents=True, exist_ok=True)
    lines = ['notebook_id = "nb"', 'name = "nb"', extra]
    for cell_id, text in cells.items():
        (root / "cells" / f"{cell_id}.py").write_text(text)
        lines += ["[[cells]]", f'id = "{cell_id}"', f'file = "{cell_id}.py"']
    (root / "notebook.toml").write_text("\n".join(lines) + "\n")
    return root


def _load(root: Path) -> list[str]:
    """Cell ids as a fresh process loads them (the in-process memo is not what is tested)."""
    manifest_file._checked.clear()
    return [c.id for c in load_notebook(root).cells]


def test_a_record_is_written_into_an_existing_strata_dir_and_read_back(tmp_path: Path) -> None:
    root = _write(tmp_path / "nb", {"a": "x = 1\n", "b": "y = x\n"})
    assert _load(root) == ["a", "b"]
    assert not (root / ".strata").exists()  # looking at a notebook creates nothing
    (root / ".strata").mkdir()
    _load(root)
    assert (root / ".strata" / FILE).is_file()
    manifest_file._checked.clear()
    nb = load_notebook(root)
    assert [c.id for c in nb.cells] == ["a", "b"]
    assert nb.document == tomllib.loads((root / "notebook.toml").read_text())
    # Proof the record is what a later load uses: a record made (validly) for this very
    # text but holding another name is believed. Only the text's digest decides.
    text = (root / "notebook.toml").read_text()
    manifest_cache.save(root / ".strata", text, {**nb.document, "name": "from the record"})
    manifest_file._checked.clear()
    assert load_notebook(root).name == "from the record"


def test_any_edit_of_the_manifest_is_parsed_again(tmp_path: Path) -> None:
    root = _write(tmp_path / "nb", {"a": "x = 1\n", "b": "y = x\n"})
    (root / ".strata").mkdir()
    _load(root)
    manifest = root / "notebook.toml"
    # Same size, one byte different: never trusted by size or mtime.
    manifest.write_text(manifest.read_text().replace('name = "nb"', 'name = "nc"'))
    manifest_file._checked.clear()
    assert load_notebook(root).name == "nc"
    manifest.write_text(manifest.read_text() + '[[cells]]\nid = "c"\nfile = "c.py"\n')
    assert _load(root) == ["a", "b", "c"]
    manifest.write_text(manifest.read_text() + "[[cells\n")  # broken: the error, not the record
    with pytest.raises(NotebookParseError):
        _load(root)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated (a torn copy)
        lambda data: data.split(b"\n", 1)[0],  # header only
        lambda data: b"",
        lambda data: b"not json at all\n{}",
        lambda data: data.replace(b'"a"', b'"z"'),  # body changed, digest kept
        lambda data: data.replace(manifest_cache.FORMAT.encode(), b"strata-manifest-v0"),
    ],
)
def test_a_damaged_record_is_ignored_and_rewritten(tmp_path: Path, damage: object) -> None:
    root = _write(tmp_path / "nb", {"a": "x = 1\n", "b": "y = x\n"})
    (root / ".strata").mkdir()
    _load(root)
    record = root / ".strata" / FILE
    good = record.read_bytes()
    record.write_bytes(damage(good))  # type: ignore[operator]
    assert manifest_cache.load(root / ".strata", (root / "notebook.toml").read_text()) is None
    assert _load(root) == ["a", "b"]
    assert record.read_bytes() == good


def test_a_record_of_another_text_with_a_valid_body_is_not_used(tmp_path: Path) -> None:
    """A record copied from another notebook (or left from an older manifest) is valid in
    itself; only the digest of the text decides."""
    root = _write(tmp_path / "nb", {"a": "x = 1\n"})
    other = _write(tmp_path / "other", {"q": "q = 1\n"})
    for nb in (root, other):
        (nb / ".strata").mkdir()
        _load(nb)
    (root / ".strata" / FILE).write_bytes((other / ".strata" / FILE).read_bytes())
    assert _load(root) == ["a"]


def test_a_manifest_json_cannot_hold_exactly_is_not_recorded(tmp_path: Path) -> None:
    root = _write(tmp_path / "nb", {"a": "x = 1\n"}, extra="created = 2024-01-02T03:04:05Z")
    (root / ".strata").mkdir()
    _load(root)
    assert not (root / ".strata" / FILE).exists()
    manifest_file._checked.clear()
    assert load_notebook(root).document["created"].year == 2024


def test_floats_integers_and_unicode_come_back_as_parsed(tmp_path: Path) -> None:
    extra = 'timeout = 30\n[env]\nRATE = "0.5"\nNAME = "café ✓"\n[store]\nratio = 1.0\nbig = inf'
    root = _write(tmp_path / "nb", {"a": "x = 1\n"}, extra=extra)
    (root / ".strata").mkdir()
    _load(root)
    assert (root / ".strata" / FILE).exists()
    manifest_file._checked.clear()
    document = load_notebook(root).document
    assert document == tomllib.loads((root / "notebook.toml").read_text())
    assert isinstance(document["timeout"], int) and isinstance(document["store"]["ratio"], float)
    header = json.loads((root / ".strata" / FILE).read_bytes().split(b"\n", 1)[0])
    assert set(header) == {"format", "text", "mac"}


def test_an_unwritable_strata_dir_still_loads(tmp_path: Path) -> None:
    root = _write(tmp_path / "nb", {"a": "x = 1\n"})
    (root / ".strata").write_text("not a directory")
    assert _load(root) == ["a"]


def test_a_fifo_in_place_of_the_record_is_not_opened(tmp_path: Path) -> None:
    root = _write(tmp_path / "nb", {"a": "x = 1\n"})
    (root / ".strata").mkdir()
    os.mkfifo(root / ".strata" / FILE)  # reading it would block forever
    assert _load(root) == ["a"]


def test_a_first_run_records_the_parse_it_made_before_strata_existed(
    tmp_path: Path, open_session: Callable[[Path], Session]
) -> None:
    root = _write(tmp_path / "nb", {"a": "x = 1\n", "b": "y = x + 1\n"})
    manifest_file._checked.clear()
    session = open_session(root)  # loads notebook.toml while .strata/ does not exist
    assert not (root / ".strata").exists()
    assert session.run().success
    text = (root / "notebook.toml").read_text()
    assert manifest_cache.load(root / ".strata", text) == session.notebook.document


def test_a_record_this_user_did_not_write_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record committed to a repository or copied from another machine is well formed
    and names the right text, but its MAC is not under this user's key: parsed again."""
    root = _write(tmp_path / "nb", {"a": "x = 1\n"})
    (root / ".strata").mkdir()
    text = (root / "notebook.toml").read_text()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    document = {**tomllib.loads(text), "name": "planted"}
    manifest_cache.save(root / ".strata", text, document)
    assert manifest_cache.load(root / ".strata", text) == document  # theirs, for them
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "me"))
    assert manifest_cache.load(root / ".strata", text) is None
    manifest_file._checked.clear()
    assert load_notebook(root).name == "nb"
    key = tmp_path / "me" / "strata" / "record.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
