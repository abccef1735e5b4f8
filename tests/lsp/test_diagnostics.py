"""Diagnostics over stdio: notebook cells, plain cell files and notebook.toml."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.uris import from_fs_path

from strata_lsp.server import NOTEBOOK_TYPE

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio


def codes(diagnostics: list[types.Diagnostic]) -> list[str]:
    return sorted(str(d.code) for d in diagnostics)


def line_range(line: int, start: int, end: int) -> types.Range:
    return types.Range(types.Position(line, start), types.Position(line, end))


async def test_annotation_diagnostic_is_on_the_value_and_cleared_when_fixed(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"a": "# @timeout soon\nx = 1\n", "b": "y = x + 1\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    found = await lsp.diagnostics(uris["a"], bool)
    assert codes(found) == ["timeout_not_numeric"]
    assert found[0].source == "strata"
    assert found[0].severity == types.DiagnosticSeverity.Warning
    assert found[0].range == line_range(0, 11, 15)

    mark = lsp.mark()
    version = lsp.edit_cell(
        f"strata:{directory}/notebook.strata", uris["a"], "# @timeout 30\nx = 1\n"
    )
    params = await lsp.wait_for(
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, lambda p: p.uri == uris["a"], after=mark
    )
    assert list(params.diagnostics) == []
    assert params.version == version


async def test_editing_one_cell_updates_another_cells_diagnostics(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"a": "x = 1\n", "c": "z = y + 1\n", "d": "y = 2\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    found = await lsp.diagnostics(uris["c"], bool)
    assert codes(found) == ["reference_forward"]
    assert found[0].range == line_range(0, 4, 5)

    mark = lsp.mark()
    lsp.edit_cell(f"strata:{directory}/notebook.strata", uris["a"], "x = 1\ny = 0\n")
    assert await lsp.diagnostics(uris["c"], lambda d: d == [], after=mark) == []


SPEC_CASES = {
    "timeout_not_numeric": "# @timeout 0\nv1 = 1\n",
    "env_malformed": "# @env MODE\nv2 = 1\n",
    "mount_mode_invalid": "# @mount data file:///nop rx\nv3 = 1\n",
    "mount_uri_unsupported": "# @mount data ftp://host/x\nv4 = 1\n",
    "after_unknown": "# @after nowhere\nv5 = 1\n",
    "after_self": "# @after self_ref\nv6 = 1\n",
    "annotation_unknown": "# @timout 30\nv7 = 1\n",
    "worker_unknown": "# @worker gpu\nv8 = 1\n",
    "syntax_error": "v9 = (\n",
    "loop_missing_carry": "# @loop max_iter=3\nv10 = 1\n",
    "loop_missing_max_iter": "# @loop carry=v11\nv11 = v11 + 1\n",
    "loop_until_syntax_error": "# @loop max_iter=2 carry=v12\n# @loop_until v12 >\nv12 = 1\n",
    "cache_policy_unknown": "# @cache forevr\nv13 = 1\n",
    "variant_malformed": "# @variant onlygroup\nv14 = 1\n",
}


async def test_spec_codes_reach_the_cells_they_belong_to(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {
        code if code != "after_self" else "self_ref": text for code, text in SPEC_CASES.items()
    }
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    for code in SPEC_CASES:
        cell_id = code if code != "after_self" else "self_ref"
        found = await lsp.diagnostics(uris[cell_id], bool)
        assert code in codes(found), (cell_id, codes(found))


async def test_sql_cell_without_connection(lsp: Session, make_notebook: NotebookFactory) -> None:
    header = '[connections.wh]\ndriver = "duckdb"\npath = "wh.duckdb"\n'
    directory = make_notebook({"q": "select 1\n"}, header=header, languages={"q": "sql"})
    uri = lsp.open_text(directory / "cells" / "q.sql", language="sql")
    found = await lsp.diagnostics(uri, bool)
    # SQL cells run (issue [6]): the missing connection is the one error.
    assert codes(found) == ["sql_connection_missing"]
    assert all(d.severity == types.DiagnosticSeverity.Error for d in found)


async def test_cell_on_an_unknown_backend_is_refused_where_it_is_placed(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    header = '[[workers]]\nname = "gpu"\nbackend = "gpux"\n'
    directory = make_notebook({"a": "# @worker gpu\nx = 1\n"}, header=header)
    uri = lsp.open_text(directory / "cells" / "a.py")
    found = await lsp.diagnostics(uri, bool)
    assert codes(found) == ["worker_unavailable"]
    assert found[0].range == line_range(0, 10, 13)
    assert "worker 'gpu' has backend 'gpux', which Strata does not know" in found[0].message


async def test_plain_cell_file_opened_as_text(lsp: Session, make_notebook: NotebookFactory) -> None:
    directory = make_notebook({"a": "# @worker gpu\nx = 1\n"})
    uri = lsp.open_text(directory / "cells" / "a.py")
    found = await lsp.diagnostics(uri, bool)
    assert codes(found) == ["worker_unknown"]
    assert found[0].range == line_range(0, 10, 13)
    mark = lsp.mark()
    lsp.edit_text(uri, "# @worker local\nx = 1\n")
    assert await lsp.diagnostics(uri, after=mark) == []


async def test_notebook_toml_problems(lsp: Session, make_notebook: NotebookFactory) -> None:
    header = 'nmae = "typo"\n\n[connections.pg]\nhost = "db"\n\n[[workers]]\nbackend = "local"\n'
    directory = make_notebook({"a": "x = 1\n"}, header=header)
    uri = lsp.open_text(directory / "notebook.toml", language="toml")
    found = await lsp.diagnostics(uri, bool)
    assert codes(found) == ["connection_malformed", "manifest_key_unknown", "worker_malformed"]
    unknown = next(d for d in found if d.code == "manifest_key_unknown")
    assert unknown.range == line_range(2, 0, 4)
    assert unknown.data == {"key": "nmae", "suggestion": "name"}


async def test_toml_syntax_error_then_fixed(lsp: Session, make_notebook: NotebookFactory) -> None:
    directory = make_notebook({"a": "x = 1\n"})
    good = (directory / "notebook.toml").read_text()
    uri = lsp.open_text(directory / "notebook.toml", language="toml")
    await lsp.diagnostics(uri)
    mark = lsp.mark()
    lsp.edit_text(uri, good.replace('name = "lsp test"', "name = lsp test"))
    found = await lsp.diagnostics(uri, bool, after=mark)
    assert codes(found) == ["parse_failed"]
    assert found[0].severity == types.DiagnosticSeverity.Error
    assert found[0].range.start.line == 1
    mark = lsp.mark()
    lsp.edit_text(uri, good)
    assert await lsp.diagnostics(uri, after=mark) == []


async def test_unsaved_notebook_toml_counts_for_cells(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"a": "# @worker gpu\nx = 1\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    assert codes(await lsp.diagnostics(uris["a"], bool)) == ["worker_unknown"]
    manifest = lsp.open_text(directory / "notebook.toml", language="toml")
    mark = lsp.mark()
    text = (directory / "notebook.toml").read_text()
    lsp.edit_text(manifest, text + '\n[[workers]]\nname = "gpu"\nbackend = "local"\n')
    assert await lsp.diagnostics(uris["a"], lambda d: d == [], after=mark) == []


async def test_notebook_without_metadata_maps_file_cells(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook({"a": "x = 1\n", "b": "# @after a, zz\ny = x\n"})
    cell_uri = from_fs_path(str(directory / "cells" / "b.py")) or ""
    lsp.client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=from_fs_path(str(directory / "notebook.toml")) or "",
                notebook_type=NOTEBOOK_TYPE,
                version=1,
                cells=[types.NotebookCell(kind=types.NotebookCellKind.Code, document=cell_uri)],
            ),
            cell_text_documents=[
                types.TextDocumentItem(cell_uri, "python", 1, "# @after a, zz\ny = x\n")
            ],
        )
    )
    found = await lsp.diagnostics(cell_uri, bool)
    assert codes(found) == ["after_unknown"]
    assert found[0].range == line_range(0, 12, 14)


async def test_state_request(lsp: Session, make_notebook: NotebookFactory) -> None:
    directory = make_notebook({"a": "x = 1\n", "b": "y = x\n"})
    lsp.open_text(directory / "cells" / "b.py")
    state = await lsp.client.protocol.send_request_async(
        "strata/state", {"notebook": f"file://{directory}"}
    )
    assert state["notebook"] == str(directory)
    assert [(c["id"], c["state"]) for c in state["cells"]] == [
        ("a", "never_run"),
        ("b", "never_run"),
    ]


async def test_ranges_are_in_utf16_units(lsp: Session, make_notebook: NotebookFactory) -> None:
    cells = {"a": "# @env K=é\n# @timeout 😀😀\nx = 1\n"}
    directory = make_notebook(cells)
    uris = lsp.open_notebook(directory, cells)
    (found,) = await lsp.diagnostics(uris["a"], bool)
    assert found.code == "timeout_not_numeric"
    assert found.range == line_range(1, 11, 15)  # two code points, four UTF-16 units


async def test_cells_added_to_and_removed_from_the_notebook_document(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook({"a": "x = 1\n", "b": "y = 2\n"})
    uris = lsp.open_notebook(directory, {"a": "x = 1\n"})
    await lsp.diagnostics(uris["a"])
    notebook_uri = f"strata:{directory}/notebook.strata"
    cell_b = f"vscode-notebook-cell:{directory}/notebook.strata#new"
    added = types.NotebookCell(
        kind=types.NotebookCellKind.Code, document=cell_b, metadata={"strata": {"id": "b"}}
    )

    def structure(start: int, delete: int, cells: list[types.NotebookCell], **kw: object) -> None:
        lsp.client.notebook_document_did_change(
            types.DidChangeNotebookDocumentParams(
                notebook_document=types.VersionedNotebookDocumentIdentifier(2, notebook_uri),
                change=types.NotebookDocumentChangeEvent(
                    cells=types.NotebookDocumentCellChanges(
                        structure=types.NotebookDocumentCellChangeStructure(
                            array=types.NotebookCellArrayChange(start, delete, cells), **kw
                        )
                    )
                ),
            )
        )

    mark = lsp.mark()
    item = types.TextDocumentItem(cell_b, "python", 1, "# @timeout x\ny = 2\n")
    structure(1, 0, [added], did_open=[item])
    assert codes(await lsp.diagnostics(cell_b, bool, after=mark)) == ["timeout_not_numeric"]
    mark = lsp.mark()
    structure(1, 1, [], did_close=[types.TextDocumentIdentifier(cell_b)])
    assert await lsp.diagnostics(cell_b, after=mark) == []
