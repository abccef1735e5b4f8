"""Loading and saving notebook directories (SPEC 1-2)."""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path

import pytest

from strata_engine.model.notebook import NotebookError, NotebookParseError, load_notebook
from strata_engine.model.saving import create_notebook, save_notebook

TABLES = """\
notebook_id = "nb-1"
name = "Tables"
created_at = 2026-01-01T00:00:00Z
updated_at = 2026-01-01T00:00:00Z
mystery = "kept"

[env]
REGION = "eu"
API_KEY = "sk-live-should-never-be-written"

[[cells]]
id = "b"
file = "b.py"
language = "python"
order = 2.0
color = "blue"

[[cells]]
id = "a"
file = "a.py"
language = "python"
order = 1.0

[future_feature]
enabled = true
"""

INLINE = """\
notebook_id = "nb-2"
cells = [
  { id = "one", file = "one.py", language = "python", order = 1 },
  { id = "two", file = "two.md", language = "markdown", order = 2 },
]
"""


def write_notebook(root: Path, manifest: str, files: dict[str, str | bytes]) -> Path:
    (root / "cells").mkdir(parents=True, exist_ok=True)
    (root / "notebook.toml").write_text(manifest)
    for name, content in files.items():
        path = root / "cells" / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def test_array_of_tables_loads_in_order(tmp_path: Path) -> None:
    write_notebook(tmp_path, TABLES, {"a.py": "x = 1\n", "b.py": "y = x\n"})
    nb = load_notebook(tmp_path)
    assert [c.id for c in nb.cells] == ["a", "b"]
    assert nb.cells[1].source == "y = x\n"
    assert nb.diagnostics == []
    assert nb.env == {"REGION": "eu", "API_KEY": "sk-live-should-never-be-written"}


def test_inline_cells_array_loads(tmp_path: Path) -> None:
    write_notebook(tmp_path, INLINE, {"one.py": "a = 1\n", "two.md": "# hi\n"})
    nb = load_notebook(tmp_path)
    assert [(c.id, c.language) for c in nb.cells] == [("one", "python"), ("two", "markdown")]


def test_save_keeps_unknown_keys_and_blanks_secrets(tmp_path: Path) -> None:
    write_notebook(tmp_path, TABLES, {"a.py": "", "b.py": ""})
    nb = load_notebook(tmp_path)
    nb.cells.reverse()
    nb.cells[0].order, nb.cells[1].order = 1.0, 2.0
    assert save_notebook(nb)
    text = (tmp_path / "notebook.toml").read_text()
    saved = tomllib.loads(text)
    assert saved["mystery"] == "kept"
    assert saved["future_feature"] == {"enabled": True}
    assert saved["cells"][0]["color"] == "blue"
    assert saved["env"] == {"REGION": "eu", "API_KEY": ""}
    assert "sk-live" not in text


def test_env_block_of_only_secrets_is_omitted(tmp_path: Path) -> None:
    manifest = TABLES.replace('REGION = "eu"\n', "")
    write_notebook(tmp_path, manifest, {"a.py": "", "b.py": ""})
    nb = load_notebook(tmp_path)
    nb.cells[0].order = 0.5
    save_notebook(nb)
    assert "env" not in tomllib.loads((tmp_path / "notebook.toml").read_text())


def test_updated_at_changes_only_on_structural_edit(tmp_path: Path) -> None:
    write_notebook(tmp_path, INLINE, {"one.py": "", "two.md": ""})
    nb = load_notebook(tmp_path)
    before = (tmp_path / "notebook.toml").read_bytes()
    assert save_notebook(nb) is False  # nothing changed: not even updated_at is touched
    assert (tmp_path / "notebook.toml").read_bytes() == before
    nb.cells.pop()
    later = dt.datetime(2030, 5, 1, tzinfo=dt.UTC)
    assert save_notebook(nb, now=later)
    saved = tomllib.loads((tmp_path / "notebook.toml").read_text())
    assert saved["updated_at"] == later
    assert [c["id"] for c in saved["cells"]] == ["one"]


def test_malformed_manifest_reports_line_and_column_and_is_untouched(tmp_path: Path) -> None:
    bad = 'notebook_id = "x"\nname = \n'
    write_notebook(tmp_path, bad, {})
    with pytest.raises(NotebookParseError) as info:
        load_notebook(tmp_path)
    assert (info.value.line, info.value.column) == (2, 8)
    assert "notebook.toml:2:8" in str(info.value)
    assert (tmp_path / "notebook.toml").read_text() == bad


def test_save_refuses_to_clobber_a_manifest_broken_since_load(tmp_path: Path) -> None:
    write_notebook(tmp_path, INLINE, {"one.py": "", "two.md": ""})
    nb = load_notebook(tmp_path)
    (tmp_path / "notebook.toml").write_text("cells = [\n")
    nb.cells.pop()
    with pytest.raises(NotebookParseError):
        save_notebook(nb)
    assert (tmp_path / "notebook.toml").read_text() == "cells = [\n"


def test_missing_cell_file_is_a_diagnostic(tmp_path: Path) -> None:
    write_notebook(tmp_path, INLINE, {"one.py": "a = 1\n"})
    nb = load_notebook(tmp_path)
    assert [(d.code, d.cell_id) for d in nb.diagnostics] == [("cell_file_missing", "two")]
    assert "cells/two.md" in nb.diagnostics[0].message


def test_duplicate_ids_reported_first_kept(tmp_path: Path) -> None:
    manifest = INLINE.replace('id = "two"', 'id = "one"')
    write_notebook(tmp_path, manifest, {"one.py": "", "two.md": ""})
    nb = load_notebook(tmp_path)
    assert [c.file for c in nb.cells] == ["one.py"]
    assert [d.code for d in nb.diagnostics] == ["duplicate_cell_id"]


@pytest.mark.parametrize("file", ["../x.py", "/etc/passwd", "sub/../../x.py"])
def test_paths_outside_cells_are_refused(tmp_path: Path, file: str) -> None:
    manifest = INLINE.replace('file = "one.py"', f'file = "{file}"')
    write_notebook(tmp_path, manifest, {"two.md": ""})
    (tmp_path / "x.py").write_text("raise SystemExit('must never be read')\n")
    nb = load_notebook(tmp_path)
    assert nb.cells[0].source is None
    assert [d.code for d in nb.diagnostics] == ["cell_path_outside"]
    assert file in nb.diagnostics[0].message


def test_symlink_escaping_cells_is_refused(tmp_path: Path) -> None:
    write_notebook(tmp_path, INLINE, {"two.md": ""})
    (tmp_path / "secret.py").write_text("x = 1\n")
    os.symlink(tmp_path / "secret.py", tmp_path / "cells" / "one.py")
    nb = load_notebook(tmp_path)
    assert [d.code for d in nb.diagnostics] == ["cell_path_outside"]


def test_non_utf8_cell_is_reported_with_offset(tmp_path: Path) -> None:
    write_notebook(tmp_path, INLINE, {"one.py": b"x = '\xff'\n", "two.md": ""})
    nb = load_notebook(tmp_path)
    assert nb.cells[0].source is None
    (diag,) = nb.diagnostics
    assert diag.code == "parse_failed"
    assert "0xff" in diag.message and "offset 5" in diag.message


def test_not_a_notebook_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match=r"no notebook\.toml"):
        load_notebook(tmp_path)


def test_create_notebook_then_load(tmp_path: Path) -> None:
    nb = create_notebook(tmp_path / "fresh", "fresh")
    loaded = load_notebook(tmp_path / "fresh")
    assert loaded.notebook_id == nb.notebook_id
    assert [c.id for c in loaded.cells] == ["hello"]
    with pytest.raises(NotebookError, match="already exists"):
        create_notebook(tmp_path / "fresh", "fresh")


def test_atomic_write_keeps_file_mode(tmp_path: Path) -> None:
    from strata_engine.model.fsutil import atomic_write

    target = tmp_path / "f.txt"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write(target, "new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


COMMENTED = """\
# The sales notebook: keep this comment.
notebook_id = "nb-3"
name = 'Sales'  # single quotes stay
updated_at = 2026-01-01T00:00:00Z

[[cells]]
id = "a"
file = "a.py"
order = 1  # an int order stays an int

[[cells]]
id = "b"
file = "b.py"
order = 2

[env]
REGION = "eu"
"""


def diff_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    import difflib

    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


def test_structural_save_is_a_minimal_diff(tmp_path: Path) -> None:
    from strata_engine.model.notebook import Cell

    write_notebook(tmp_path, COMMENTED, {"a.py": "", "b.py": "", "c.py": ""})
    nb = load_notebook(tmp_path)
    nb.cells = [c for c in nb.cells if c.id != "b"]
    nb.cells.append(Cell(id="c", file="c.py", language="python", order=3.0))
    save_notebook(nb, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    after = (tmp_path / "notebook.toml").read_text()
    assert after == COMMENTED.replace("2026-01-01", "2030-01-01").replace(
        'id = "b"\nfile = "b.py"\norder = 2\n',
        'id = "c"\nfile = "c.py"\nlanguage = "python"\norder = 3.0\n',
    )
    assert load_notebook(tmp_path).cells[-1].id == "c"


def test_inline_cells_array_keeps_its_style(tmp_path: Path) -> None:
    write_notebook(tmp_path, INLINE, {"one.py": "", "two.md": ""})
    nb = load_notebook(tmp_path)
    nb.cells[0].order = 5.0
    save_notebook(nb, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    after = (tmp_path / "notebook.toml").read_text()
    assert "cells = [" in after and "[[cells]]" not in after
    removed, added = diff_lines(INLINE, after)
    assert removed == ['  { id = "one", file = "one.py", language = "python", order = 1 },']
    assert sorted(added) == [
        '  { id = "one", file = "one.py", language = "python", order = 5.0 },',
        "updated_at = 2030-01-01T00:00:00Z",
    ]
