"""The engine's editor services: quick fixes, completion and explanations (hover)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from strata_engine.analysis.snapshot import Snapshot, take_snapshot
from strata_engine.editor.completion import complete
from strata_engine.editor.explain import causality, explain_at, explain_cell
from strata_engine.editor.fixes import Edit, quick_fixes, text_at
from strata_engine.model.diagnostics import Span
from strata_engine.model.notebook import load_notebook
from strata_engine.run.session import Session

HEADER = """timeout = 120

[[workers]]
name = "gpu-box"
backend = "local"

[connections.warehouse]
driver = "duckdb"
path = "wh.duckdb"
"""

Factory = Callable[..., Path]


def snapshot_of(make_notebook: Factory, cells: dict[str, str], header: str = HEADER) -> Snapshot:
    return take_snapshot(load_notebook(make_notebook(cells, header=header)))


def fixes_for(snapshot: Snapshot, cell_id: str, code: str) -> list[tuple[str, list[Edit]]]:
    view = snapshot.cells[cell_id]
    (diag,) = [d for d in view.diagnostics if d.code == code]
    return [(f.title, list(f.edits)) for f in quick_fixes(snapshot, diag)]


def apply(text: str, edit: Edit) -> str:
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[: edit.span.line - 1]) + edit.span.col
    end = sum(len(line) + 1 for line in lines[: edit.span.end_line - 1]) + edit.span.end_col
    return text[:start] + edit.new_text + text[end:]


@pytest.mark.parametrize(
    ("source", "code", "fixed"),
    [
        ("# @timeout 0\nx = 1\n", "timeout_not_numeric", "# @timeout 120\nx = 1\n"),
        ("# @timeout\nx = 1\n", "timeout_not_numeric", "# @timeout 120\nx = 1\n"),
        ("# @env MODE: fast\nx = 1\n", "env_malformed", "# @env MODE=fast\nx = 1\n"),
        ("# @env my-var=1\nx = 1\n", "env_malformed", "# @env my_var=1\nx = 1\n"),
        ("# @env ONLY\nx = 1\n", "env_malformed", "# @env ONLY=\nx = 1\n"),
        (
            "# @mount d file:///x rx\nx = 1\n",
            "mount_mode_invalid",
            "# @mount d file:///x ro\nx = 1\n",
        ),
        ("# @mount d /data\nx = 1\n", "mount_uri_unsupported", "# @mount d file:///data\nx = 1\n"),
        ("# @nocahce\nx = 1\n", "annotation_unknown", "# @nocache\nx = 1\n"),
        ("# @worker gpu-bx\nx = 1\n", "worker_unknown", "# @worker gpu-box\nx = 1\n"),
        ("# @after other, me\nx = 1\n", "after_self", "# @after other\nx = 1\n"),
        ("# @after me\nx = 1\n", "after_self", "x = 1\n"),
        ("# @cache ttl=-1\nx = 1\n", "cache_ttl_invalid", "# @cache ttl=3600\nx = 1\n"),
        (
            "# @loop max_iter=x carry=s\ns = s + 1\n",
            "loop_missing_max_iter",
            "# @loop max_iter=10 carry=s\ns = s + 1\n",
        ),
        (
            "# @loop max_iter=2 carry=q\ns = s + 1\n",
            "loop_carry_unknown",
            "# @loop max_iter=2 carry=s\ns = s + 1\n",
        ),
        ("# @loop\ns = s + 1\n", "loop_missing_carry", "# @loop carry=s\ns = s + 1\n"),
    ],
)
def test_preferred_fix_repairs_the_cell(
    make_notebook: Factory, source: str, code: str, fixed: str
) -> None:
    snapshot = snapshot_of(make_notebook, {"other": "o = 1\n", "me": source})
    title, edits = fixes_for(snapshot, "me", code)[0]
    assert all(e.cell_id == "me" and e.file == "cells/me.py" for e in edits), title
    text = source
    for edit in edits:
        text = apply(text, edit)
    assert text == fixed
    assert not [
        d
        for d in take_snapshot(snapshot.notebook, {"me": text}).cells["me"].diagnostics
        if d.code == code
    ]


def test_unknown_worker_stub_edits_notebook_toml(make_notebook: Factory) -> None:
    snapshot = snapshot_of(make_notebook, {"me": "# @worker big\nx = 1\n"})
    fixes = fixes_for(snapshot, "me", "worker_unknown")
    assert [t for t, _ in fixes][:2] == ["Use worker 'gpu-box'", "Use worker 'local'"]
    title, (edit,) = fixes[-1]
    assert title == "Add worker 'big' to notebook.toml ([[workers]] stub)"
    assert (edit.file, edit.cell_id) == ("notebook.toml", None)
    manifest = snapshot.notebook.manifest_text or ""
    updated = apply(manifest, edit)
    assert updated.startswith(manifest)
    assert updated.endswith('\n[[workers]]\nname = "big"\nbackend = "local"\n')
    reloaded = load_notebook(snapshot.notebook.directory, manifest_text=updated)
    assert not [d for d in take_snapshot(reloaded).all_diagnostics() if d.code == "worker_unknown"]


def test_sql_connection_fixes(make_notebook: Factory) -> None:
    cells = {"q": "select 1\n", "r": "# @sql connection=warehous\nselect 2\n"}
    directory = make_notebook(cells, header=HEADER)
    toml = (
        (directory / "notebook.toml").read_text().replace('language = "python"', 'language = "sql"')
    )
    snapshot = take_snapshot(load_notebook(directory, manifest_text=toml))
    ((title, (edit,)),) = fixes_for(snapshot, "q", "sql_connection_missing")
    assert title == "Use connection 'warehouse'"
    assert (edit.span, edit.new_text) == (Span(1, 0, 1, 0), "# @sql connection=warehouse\n")
    (title, (edit,)), *_ = fixes_for(snapshot, "r", "sql_connection_unknown")
    assert (edit.span, edit.new_text) == (Span(1, 18, 1, 26), "warehouse")


def test_malformed_key_keeps_its_value(make_notebook: Factory) -> None:
    snapshot = snapshot_of(make_notebook, {"me": "# @timeout:30\nx = 1\n"})
    ((_title, (edit,)),) = fixes_for(snapshot, "me", "annotation_unknown")
    assert apply("# @timeout:30\nx = 1\n", edit) == "# @timeout 30\nx = 1\n"


def test_manifest_fixes(make_notebook: Factory) -> None:
    header = '[connections.pg]\nhost = "h"\n\n[connections.db]\ndriver = "sqlit"\n'
    snapshot = snapshot_of(make_notebook, {"a": "x = 1\n"}, header=header)
    manifest = snapshot.notebook.manifest_text or ""
    by_code = {d.code: d for d in snapshot.diagnostics}
    first = quick_fixes(snapshot, by_code["connection_malformed"])[0]
    assert 'host = "h"' in apply(manifest, first.edits[0])
    assert '[connections.pg]\ndriver = "duckdb"\nhost' in apply(manifest, first.edits[0])
    (driver,) = quick_fixes(snapshot, by_code["connection_driver_unknown"])
    assert text_at(manifest, driver.edits[0].span) == '"sqlit"'
    assert driver.edits[0].new_text == '"sqlite"'


def labels(snapshot: Snapshot, cell_id: str, line: int, col: int) -> list[str]:
    return [c.label for c in complete(snapshot, cell_id, line, col)]


def test_completion_contexts(make_notebook: Factory) -> None:
    cells = {
        "load": "x = 1\n",
        "me": "# @ti\n# @worker \n# @mount data \n# @after \n# @sql connection=\n"
        "# @cache \nz = 1\n# @\n",
    }
    snapshot = snapshot_of(make_notebook, cells)
    keys = complete(snapshot, "me", 1, 5)
    assert keys[0].replace == Span(1, 3, 1, 5)
    assert "timeout" in [k.label for k in keys]
    assert labels(snapshot, "me", 2, 10) == ["gpu-box", "local"]
    assert labels(snapshot, "me", 3, 14)[:2] == ["file://", "s3://"]
    assert labels(snapshot, "me", 4, 9) == ["load"]
    assert labels(snapshot, "me", 5, 18) == ["warehouse"]
    assert labels(snapshot, "me", 6, 9) == ["fingerprint", "forever", "session", "ttl"]
    assert labels(snapshot, "me", 8, 3) == []  # after the first code line: not an annotation
    assert labels(snapshot, "me", 7, 2) == []


def test_explanations(make_notebook: Factory, open_session: Callable[[Path], Session]) -> None:
    header = 'timeout = 120\n\n[env]\nMODE = "slow"\n'
    cells = {"load": "x = [1, 2]\n", "use": "# @env MODE=fast\n# note\ny = len(x)\n"}
    session = open_session(make_notebook(cells, header=header))
    session.run("all")
    edited = {"load": "x = [1, 2, 3]\n"}
    snapshot = session.snapshot(edited)
    states = session.states(snapshot)
    env = explain_at(snapshot, states, "use", 1, 8)
    assert env is not None and "In effect: `MODE=fast`" in env.markdown
    assert "notebook `[env]`: `slow` (overridden)" in env.markdown
    assert causality(states, "use") == [
        "- upstream load changed (x) (now stale)",
        "  - source changed",
    ]
    cell = explain_cell(snapshot, states, "use")
    assert "**stale**" in cell and "Last run:" in cell
    variable = explain_at(snapshot, states, "use", 3, 9)
    assert variable is not None and variable.markdown == "`x` comes from cell `load` (stale)."
    assert variable.span == Span(3, 8, 3, 9)
    assert explain_at(snapshot, states, "use", 3, 3) is None  # `len`: nothing to say


def test_worker_hover_says_where_the_cell_runs_or_why_it_cannot(make_notebook: Factory) -> None:
    header = HEADER + '\n[[workers]]\nname = "gpu"\nbackend = "gpux"\n'
    cells = {"here": "# @worker gpu-box\nx = 1\n", "there": "# @worker gpu\ny = 1\n"}
    snapshot = snapshot_of(make_notebook, cells, header)
    with Session(snapshot.notebook.directory) as session:
        states = session.states(snapshot)
    here = explain_at(snapshot, states, "here", 1, 12)
    assert here is not None and "Runs on: **gpu-box** (local backend)" in here.markdown
    there = explain_at(snapshot, states, "there", 1, 11)
    assert there is not None and "Runs on" not in there.markdown
    assert "Cannot run: worker 'gpu' has backend 'gpux', which Strata" in there.markdown
