"""Completion of upstream names where a cell's body reads them: a prompt's `{{ name }}`
placeholders and a SQL cell's `:name` binds. Nothing runs: the names come from analysis."""

from __future__ import annotations

from pathlib import Path

from sql_nb import write_sql_notebook

from strata_engine.analysis.snapshot import Snapshot, take_snapshot
from strata_engine.editor.completion import Completion, complete, upstream_names
from strata_engine.editor.sql_completion import complete_sql
from strata_engine.model.notebook import load_notebook

HEADER = """[connections.wh]
driver = "sqlite"
path = "wh.db"
"""

CELLS = {
    "load": ("python", "tickets = ['a', 'b']\nn = 2\n_scratch = 1\n"),
    "channels": ("python", "# @name Channels\nchannels = {'a': 'mail'}\nn = 3\n"),
    "counts": ("sql", "# @name by_channel\n# @sql connection=wh\nSELECT 1 WHERE 1 > :n\n"),
    "triage": ("prompt", "# @name triage\n# @model gpt-4o-mini\nSort {{ ti}} by {{ \n"),
    "later": ("python", "late_name = 1\n"),
}


def _snapshot(tmp_path: Path) -> Snapshot:
    nb = write_sql_notebook(tmp_path / "nb", CELLS, header=HEADER)
    return take_snapshot(load_notebook(nb))


def _at(snapshot: Snapshot, cell_id: str, line: int, before: str) -> list[Completion]:
    """What the editor would show with the cursor just after `before` on `line`: the
    annotation contexts first, then the SQL body (as the language server combines them)."""
    text = (snapshot.cells[cell_id].source or "").split("\n")[line - 1]
    col = text.index(before) + len(before)
    return complete(snapshot, cell_id, line, col) or complete_sql(snapshot, cell_id, line, col)


def test_prompt_placeholder_offers_the_names_upstream_cells_define(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    items = _at(snapshot, "triage", 3, "{{ ti")
    # Every public name defined before the cell; never a private name or a later cell's.
    assert [i.label for i in items] == ["by_channel", "channels", "n", "tickets"]
    assert {i.kind for i in items} == {"variable"}
    # The typed part of the name is what the completion replaces.
    (tickets,) = [i for i in items if i.label == "tickets"]
    assert (tickets.replace.line, tickets.replace.col, tickets.replace.end_col) == (3, 8, 10)
    # The nearest preceding producer is the one named (SPEC 5).
    (n,) = [i for i in items if i.label == "n"]
    assert n.detail == "from cell channels 'Channels' (python)"
    (by_channel,) = [i for i in items if i.label == "by_channel"]
    assert by_channel.detail == "from cell counts 'by_channel' (sql)"


def test_an_empty_placeholder_offers_all_names_and_a_closed_one_nothing(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    empty = _at(snapshot, "triage", 3, "by {{ ")
    assert [i.label for i in empty] == ["by_channel", "channels", "n", "tickets"]
    assert all(i.replace.col == i.replace.end_col for i in empty)
    assert _at(snapshot, "triage", 3, "{{ ti}}") == []  # after the placeholder closed
    assert _at(snapshot, "triage", 3, "Sort") == []  # plain prompt text


def test_the_prompt_annotation_block_still_completes_annotations(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    keys = [i.label for i in _at(snapshot, "triage", 2, "# @mo")]
    assert "model" in keys
    assert all(i.kind == "annotation" for i in _at(snapshot, "triage", 2, "# @mo"))


def test_sql_bind_offers_upstream_names(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    binds = _at(snapshot, "counts", 3, ":n")
    labels = [i.label for i in binds]
    assert {"n", "tickets", "channels"} <= set(labels)
    assert "by_channel" not in labels  # the cell's own output
    assert "late_name" not in labels  # a later cell's: it would be a forward reference
    assert "_scratch" not in labels
    (n,) = [i for i in binds if i.label == "n"]
    assert (n.replace.line, n.replace.col, n.replace.end_col) == (3, 20, 21)
    assert not (snapshot.notebook.directory / ".strata").exists()  # nothing ran


def test_upstream_names_follow_notebook_order(tmp_path: Path) -> None:
    snapshot = _snapshot(tmp_path)
    assert list(upstream_names(snapshot, "load")) == []
    names = upstream_names(snapshot, "later")
    assert sorted(names) == ["by_channel", "channels", "n", "tickets", "triage"]
    assert names["n"].id == "channels"
    assert names["triage"].language == "prompt"
