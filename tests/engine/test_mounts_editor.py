"""Mounts in the editor services: completion after `@mount`, hover on a mounted name or an
`@mount` line (URI, mode, the last known fingerprint, never a listing), and quick fixes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from test_editor_services import apply, fixes_for, labels, snapshot_of

from strata_engine.analysis.snapshot import take_snapshot
from strata_engine.editor.completion import complete
from strata_engine.editor.explain import explain_at
from strata_engine.run.session import Session

Factory = Callable[..., Path]


def header(directory: Path) -> str:
    return (
        f'[[mounts]]\nname = "raw"\nuri = "file://{directory}"\n\n'
        '[[mounts]]\nname = "lake"\nuri = "s3://bucket/lake"\nmode = "rw"\n'
    )


def test_completion_offers_declared_mounts_uris_and_modes(
    make_notebook: Factory, tmp_path: Path
) -> None:
    cells = {"me": "# @mount \n# @mount raw \n# @mount raw file:///x \nx = 1\n"}
    snapshot = snapshot_of(make_notebook, cells, header(tmp_path))
    names = complete(snapshot, "me", 1, 9)
    assert [c.label for c in names] == ["raw", "lake"]
    assert names[0].detail == f"[[mounts]] file://{tmp_path} (ro)"
    uris = labels(snapshot, "me", 2, 13)
    assert uris[:2] == [f"file://{tmp_path}", "s3://bucket/lake"]
    assert "s3://" in uris and "gs://" in uris
    assert labels(snapshot, "me", 3, 24) == ["ro", "rw"]


def test_hover_on_a_mounted_name_shows_uri_mode_and_fingerprint_without_listing(
    make_notebook: Factory, tmp_path: Path, open_session: Callable[[Path], Session]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    (data / "b.txt").write_text("b")
    cells = {
        "use": "n = len(list(raw.iterdir()))\n",
        "pinned": "# @mount p file:///nowhere\nm = p\n",
    }
    nb = make_notebook(cells, header=header(data))
    session = open_session(nb)
    snapshot = session.snapshot()
    before = explain_at(snapshot, {}, "use", 1, 14)
    assert before is not None
    assert f"Mount: `raw` = `file://{data}` (ro)." in before.markdown
    assert "not listed yet" in before.markdown  # hover alone never lists
    session.states(snapshot)  # what the editor does on each change: lists (then caches)
    after = explain_at(session.snapshot(), {}, "use", 1, 14)
    assert after is not None and "2 objects, listed at" in after.markdown
    line = explain_at(snapshot, {}, "pinned", 1, 4)
    assert line is not None and "`p` = `file:///nowhere` (ro)" in line.markdown


def test_hover_on_a_read_write_or_pinned_mount(make_notebook: Factory, tmp_path: Path) -> None:
    extra = header(tmp_path) + '\n[[mounts]]\nname = "frozen"\nuri = "s3://b/f"\npin = "v7"\n'
    cells = {"w": "lake.joinpath('x')\nfrozen\n"}
    snapshot = take_snapshot(snapshot_of(make_notebook, cells, extra).notebook)
    rw = explain_at(snapshot, {}, "w", 1, 2)
    assert rw is not None and "never served from the cache (read-write)" in rw.markdown
    pinned = explain_at(snapshot, {}, "w", 2, 2)
    assert pinned is not None and "Fingerprint pinned: `v7`" in pinned.markdown


@pytest.mark.parametrize(
    ("source", "fixed"),
    [
        ("# @mount d s3a://bucket/x\nx = 1\n", "# @mount d s3://bucket/x\nx = 1\n"),
        ("# @mount d data/in\nx = 1\n", "# @mount d file://data/in\nx = 1\n"),
    ],
)
def test_unsupported_uri_fixes(make_notebook: Factory, source: str, fixed: str) -> None:
    snapshot = snapshot_of(make_notebook, {"me": source}, "")
    _, edits = fixes_for(snapshot, "me", "mount_uri_unsupported")[0]
    assert apply(source, edits[0]) == fixed


def test_a_shadowing_mount_can_be_renamed(make_notebook: Factory, tmp_path: Path) -> None:
    source = "# @mount raw file:///other\nx = raw\n"
    snapshot = snapshot_of(make_notebook, {"me": source}, header(tmp_path))
    title, edits = fixes_for(snapshot, "me", "mount_shadows_notebook")[0]
    assert title == "Rename this mount to 'raw_2'"
    fixed = apply(source, edits[0])
    assert fixed == "# @mount raw_2 file:///other\nx = raw\n"
    after = take_snapshot(snapshot.notebook, {"me": fixed}).cells["me"].diagnostics
    assert not [d for d in after if d.code == "mount_shadows_notebook"]


def test_mount_mode_fix_offers_both_modes(make_notebook: Factory) -> None:
    snapshot = snapshot_of(make_notebook, {"me": "# @mount d file:///x rx\nx = 1\n"}, "")
    titles = [title for title, _ in fixes_for(snapshot, "me", "mount_mode_invalid")]
    assert titles == [
        "Use mount mode 'ro' (read-only)",
        "Use mount mode 'rw' (read-write; the cell is never cached)",
    ]
