"""The agent tools (strata_engine.agent) called directly on real notebooks: the contract both
agent surfaces rely on, structural edits as minimal diffs, confinement to the root, refusals,
secrets and bounds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from conftest import NotebookFactory

from strata_engine.agent import TOOL_SPECS, ToolResult, call_tool

MANIFEST_HEAD = '# kept: a comment\nnotebook_id = "t"\nname = "t"\n'


def _call(root: Path, tool: str, allow_run: bool = False, **arguments: object) -> ToolResult:
    return call_tool(root, tool, dict(arguments), allow_run=allow_run)


def test_every_tool_has_a_valid_contract() -> None:
    names = [spec.name for spec in TOOL_SPECS]
    assert len(names) == len(set(names)) == 15
    for spec in TOOL_SPECS:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", spec.name)
        jsonschema.Draft202012Validator.check_schema(spec.input_schema)
        assert spec.input_schema["type"] == "object"
        assert set(spec.to_json()) == {
            "name",
            "description",
            "inputSchema",
            "destructive",
            "runsCode",
        }
    by_name = {spec.name: spec for spec in TOOL_SPECS}
    assert {n for n, s in by_name.items() if s.destructive} == {
        "delete_cell",
        "run_all",
        "add_dependency",
    }
    assert {n for n, s in by_name.items() if s.runs_code} == {
        "run_cell",
        "run_stale",
        "run_all",
        "run_snippet",
        "add_dependency",
    }
    assert set(ToolResult("t").to_json()) == {"text", "data", "isError"}


def test_structural_edits_are_minimal_diffs(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n", "b": "y = x + 1\n"}, header="# kept: a comment")
    root = nb.parent
    before = (nb / "notebook.toml").read_text()

    added = _call(root, "add_cell", notebook="nb", source="z = y * 2\n", after="a")
    assert not added.is_error, added.text
    assert added.data["cell"] == "z"  # named after what it assigns
    after_add = (nb / "notebook.toml").read_text()
    assert "# kept: a comment" in after_add
    removed = set(before.splitlines()) - set(after_add.splitlines())
    assert not removed  # the new entry was added; nothing else was rewritten
    order = _call(root, "get_notebook", notebook="nb").data["cells"]
    assert [c["id"] for c in order] == ["a", "z", "b"]

    moved = _call(root, "move_cell", notebook="nb", cell="b", after=None)
    assert moved.data["order"] == ["b", "a", "z"]
    after_move = (nb / "notebook.toml").read_text()
    changed = {line for line in _diff(after_add, after_move) if "updated_at" not in line}
    assert changed == {"order = 0.0"}  # only the moved cell's entry changed

    deleted = _call(root, "delete_cell", notebook="nb", cell="z")
    assert deleted.data["fileRemoved"] and not (nb / "cells" / "z.py").exists()
    assert 'id = "z"' not in (nb / "notebook.toml").read_text()

    same = _call(root, "edit_cell", notebook="nb", cell="a", source="x = 1\n")
    assert same.data["changed"] is False


def _diff(old: str, new: str) -> set[str]:
    return set(new.splitlines()) - set(old.splitlines())


def test_bad_calls_are_errors_naming_the_problem(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n"})
    root = nb.parent
    cases = {
        ("nope", ()): "unknown tool 'nope'",
        ("get_cell", ()): "'cell' is a required property",
        ("get_cell", (("cell", 3),)): "cell: 3 is not of type 'string'",
        ("get_cell", (("cell", "a"), ("extra", 1))): "Additional properties",
        ("get_cell", (("cell", "zz"),)): "no cell 'zz'",
        ("add_cell", (("source", "x"), ("id", "../evil"))): "not valid",
        ("add_cell", (("source", "x"), ("id", "a"))): "already exists",
        ("move_cell", (("cell", "a"), ("after", "a"))): "after itself",
        ("read_variable", (("name", "x"),)): "has never run",
        ("read_variable", (("name", "nothing"),)): "publishes 'nothing'",
    }
    for (name, arguments), expected in cases.items():
        result = call_tool(root, name, dict(arguments), allow_run=False)
        assert result.is_error, (name, arguments)
        assert expected in result.text, result.text
        assert "Traceback" not in result.text
    (nb / "strata.lock").write_text("{}")  # frozen: a snapshot
    for name in ("add_cell", "edit_cell", "delete_cell", "move_cell"):
        spec = next(s for s in TOOL_SPECS if s.name == name)
        given = {"cell": "a", "source": "x = 2\n", "after": None}
        only = {k: v for k, v in given.items() if k in spec.input_schema["properties"]}
        frozen = call_tool(root, name, only, allow_run=False)
        assert frozen.is_error and "frozen (strata.lock)" in frozen.text, name
    assert (nb / "cells" / "a.py").read_text() == "x = 1\n"


def test_notebook_paths_stay_inside_the_root(
    tmp_path: Path, make_notebook: NotebookFactory
) -> None:
    outside = make_notebook({"a": "x = 1\n"}, name="outside")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    for given in ("../outside", str(outside), "link", "/etc"):
        result = _call(root, "get_notebook", notebook=given)
        assert result.is_error and "outside the directory" in result.text, given
    assert "no notebook" in _call(root, "get_notebook").text
    assert _call(root, "list_notebooks").data["notebooks"] == []  # symlinks not followed


def test_runs_are_refused_without_allow_run(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 1\n"})
    for name in ("run_cell", "run_stale", "run_all", "run_snippet", "add_dependency"):
        arguments = {"cell": "a", "source": "y = 2\n", "package": "six"}
        spec = next(s for s in TOOL_SPECS if s.name == name)
        allowed = set(spec.input_schema["properties"])
        result = call_tool(
            nb.parent, name, {k: v for k, v in arguments.items() if k in allowed}, allow_run=False
        )
        assert result.is_error and "--allow-run" in result.text, name
    assert not (nb / ".strata").exists()
    assert sorted(p.name for p in (nb / "cells").iterdir()) == ["a.py"]


def test_runs_outputs_variables_secrets_and_bounds(
    make_notebook: NotebookFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_API_KEY", "sk-very-secret-value-123")
    monkeypatch.setenv("PGPASS", "hunter2-database-pass")  # named only by a connection's auth
    header = '[connections.pg]\ndriver = "postgresql"\nauth = { password = "${PGPASS}" }\n'
    nb = make_notebook(
        {
            "frame": "import pandas as pd\n"
            "frame = pd.DataFrame({'n': range(1000), 's': ['v'] * 1000})\n",
            "leak": "import os\nprint('key is', os.environ['SERVICE_API_KEY'])\n"
            "print('pass is', os.environ['PGPASS'])\nprint('x' * 100_000)\n",
            "obj": "class Box:\n    pass\nbox = Box()\nitems = list(range(5000))\n",
            "fig": "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n",
        },
        header=header,
    )
    root = nb.parent
    ran = _call(root, "run_all", allow_run=True, notebook="nb")
    assert not ran.is_error, ran.text
    assert ran.data["executed"] == 4

    leak = _call(root, "get_cell", notebook="nb", cell="leak")
    serialized = leak.text + json.dumps(leak.data)
    assert "sk-very-secret-value-123" not in serialized and "key is [redacted]" in serialized
    assert "hunter2-database-pass" not in serialized and "pass is [redacted]" in serialized
    assert len(leak.text) <= 8200 and len(json.dumps(leak.data)) <= 16000
    assert "truncated" in leak.data["outputs"]["stdout"]

    frame = _call(root, "read_variable", notebook="nb", name="frame")
    assert frame.data["shape"] == [1000, 2]
    assert frame.data["columns"][0] == {"name": "n", "type": "int64"}
    assert len(frame.data["preview"].splitlines()) == 11  # header + the first 10 rows

    refused = _call(root, "read_variable", notebook="nb", name="box")
    assert refused.is_error and "pickled" in refused.text and "--allow-run" in refused.text
    box = _call(root, "read_variable", allow_run=True, notebook="nb", name="box")
    assert "Box object" in box.data["preview"]
    items = _call(root, "read_variable", notebook="nb", name="items")
    assert items.data["length"] == 5000 and len(items.data["preview"]) < 3100

    fig = _call(root, "get_cell", notebook="nb", cell="fig")
    (display,) = fig.data["outputs"]["displays"]
    assert display["image"]["mime"] == "image/png"
    assert Path(display["artifact"]).is_file()  # referenced, not inlined
    assert len(json.dumps(fig.data)) < 6000


def test_run_snippet_reuses_its_cell_and_cache(make_notebook: NotebookFactory) -> None:
    nb = make_notebook({"a": "x = 20\n"})
    first = _call(nb.parent, "run_snippet", allow_run=True, source="doubled = x * 2\n")
    assert first.data["executed"] == 2, first.text  # the snippet and the cell it reads
    second = _call(nb.parent, "run_snippet", allow_run=True, source="doubled = x * 2\n")
    assert second.data["executed"] == 0
    # Each outcome names the key it was served under (an editor shows that entry's outputs).
    assert [c.pop("key") for c in second.data["cells"]] == [c["key"] for c in first.data["cells"]]
    assert second.data["cells"] == [
        {"cell": "a", "status": "ok", "cacheHit": True, "executed": False, "durationMs": 0.0},
        {
            "cell": first.data["cell"],
            "status": "ok",
            "cacheHit": True,
            "executed": False,
            "durationMs": 0.0,
        },
    ]
    value = _call(nb.parent, "read_variable", notebook="nb", name="doubled")
    assert value.data["preview"] == "40"
    assert len(_call(nb.parent, "get_notebook").data["cells"]) == 2  # one snippet cell


def test_confirmation_names_destructive_calls_and_sql_writes(
    make_notebook: NotebookFactory,
) -> None:
    from strata_engine.agent import needs_confirmation

    nb = make_notebook({"a": "x = 1\n"})
    root = nb.parent
    added = _call(
        root,
        "add_cell",
        id="archive",
        language="sql",
        source="# @sql connection=lake write=true\nCREATE TABLE t AS SELECT 1\n",
    )
    assert not added.is_error, added.text
    assert needs_confirmation(root, "get_cell", {"cell": "a"}) is None
    assert needs_confirmation(root, "run_cell", {"cell": "a"}) is None
    assert needs_confirmation(root, "run_cell", {"cell": "archive"}) == (
        "run_cell runs SQL cells that write to their database: archive"
    )
    assert "archive" in (needs_confirmation(root, "run_stale", {}) or "")
    assert needs_confirmation(root, "delete_cell", {"cell": "a"}) == "delete cell a and its file"
    snippet = {"language": "sql", "source": "# @sql connection=lake write=true\nDELETE FROM t\n"}
    assert "the snippet" in (needs_confirmation(root, "run_snippet", snippet) or "")
    assert needs_confirmation(root, "run_cell", {"notebook": "../..", "cell": "a"}) is None


def test_kept_sessions_follow_changes_made_between_calls(make_notebook: NotebookFactory) -> None:
    from strata_engine.agent.sessions import close_sessions, keep_warm

    nb = make_notebook({"a": "x = 1\n", "b": "y = x + 1\n"})
    keep_warm()
    try:
        ran = _call(nb.parent, "run_cell", allow_run=True, cell="b")
        assert ran.data["executed"] == 2
        (nb / "cells" / "a.py").write_text("x = 2\n")  # another editor, between calls
        cell = _call(nb.parent, "get_cell", cell="b")
        assert cell.data["state"] == "stale"
        rerun = _call(nb.parent, "run_cell", allow_run=True, cell="b")
        assert rerun.data["executed"] == 2
        assert _call(nb.parent, "read_variable", name="y").data["preview"] == "3"
        _call(nb.parent, "delete_cell", cell="b")
        assert [c["id"] for c in _call(nb.parent, "get_notebook").data["cells"]] == ["a"]
    finally:
        close_sessions()
