"""notebook.toml diagnostics (manifest_checks) and their positions (manifest_spans)."""

from __future__ import annotations

from pathlib import Path

from strata_engine.analysis.validation import validate_notebook
from strata_engine.model.diagnostics import Span
from strata_engine.model.manifest_checks import check_manifest_text
from strata_engine.model.manifest_spans import ManifestLocator

MANIFEST = """notebook_id = "x"
nmae = "typo"
worker = "gpu"
timeout = -5

[[cells]]
id = "a"
file = "a.py"
langauge = "python"
timeout = "slow"

[[workers]]
backend = "lcal"

[[workers]]
name = "remote"
backend = "executor"

[[mounts]]
name = "data"
uri = "/tmp/data"
mode = "rx"

[connections.wh]
driver = "duckdbb"

[connections.pg]
host = "x"
uri = "postgresql://bob:hunter2@db/x"

[connections.pg.auth]
password = "hunter2"
user = "${PG_USER}"

[[variant_group]]
group = "g"
mode = "swep"
"""


def by_code(text: str) -> dict[str, list[tuple[int | None, dict[str, str] | None]]]:
    out: dict[str, list[tuple[int | None, dict[str, str] | None]]] = {}
    for diag in check_manifest_text(text):
        out.setdefault(diag.code, []).append((diag.line, diag.data))
        assert diag.file == "notebook.toml"
    return out


def test_every_manifest_problem_is_reported_on_its_line() -> None:
    found = by_code(MANIFEST)
    assert found["manifest_key_unknown"] == [
        (2, {"key": "nmae", "suggestion": "name"}),
        (9, {"key": "langauge", "suggestion": "language"}),
    ]
    assert found["worker_unknown"] == [(3, {"worker": "gpu"})]
    assert [line for line, _ in found["timeout_not_numeric"]] == [4, 10]
    assert found["worker_malformed"] == [(12, None), (13, {"suggestion": "local"}), (15, None)]
    assert found["mount_uri_unsupported"] == [(21, None)]
    assert found["mount_mode_invalid"] == [(22, {"suggestion": "ro"})]
    assert found["connection_driver_unknown"] == [(25, {"suggestion": "duckdb"})]
    assert found["connection_malformed"] == [(27, {"missing": "driver"})]
    secrets = found["connection_auth_literal_secret"]
    assert (32, {"suggestion": "${PG_PASSWORD}", "variable": "PG_PASSWORD"}) in secrets
    assert (29, None) in secrets  # a password inside the URI
    assert found["variant_mode_invalid"] == [(37, {"suggestion": "sweep"})]


def test_a_clean_manifest_has_no_diagnostics() -> None:
    text = 'notebook_id = "x"\nname = "n"\n\n[[workers]]\nname = "w"\nbackend = "local"\n'
    assert check_manifest_text(text) == ()


def test_syntax_error_names_line_and_column() -> None:
    (diag,) = check_manifest_text('notebook_id = "x"\nname = oops\n')
    assert diag.code == "parse_failed"
    assert diag.span is not None and diag.span.line == 2


def test_locator_finds_tables_keys_values_and_inline_forms() -> None:
    text = 'a = 1\n[x]\nk = "v" # note\n[[arr]]\nn = 1\n[[arr]]\nn = 2\n[t]\ninline = { p = 1 }\n'
    at = ManifestLocator(text)
    assert at.value(("x",), None, "k") == Span(3, 4, 3, 7)
    assert at.key(("arr",), 1, "n") == Span(7, 0, 7, 1)
    assert at.table(("arr",), 1) == Span(6, 0, 6, 7)
    assert at.table(("t", "inline")) == Span(9, 0, 9, 18)
    assert at.table(("missing",)) == Span(1, 0, 1, 0)
    assert at.end() == Span(10, 0, 10, 0)


def test_validate_reports_manifest_problems(make_notebook: object) -> None:
    directory: Path = make_notebook(  # type: ignore[operator]
        {"a": "x = 1\n"}, header='[connections.wh]\nhost = "h"\n'
    )
    result = validate_notebook(directory)
    assert not result.valid
    assert [d.code for d in result.diagnostics] == ["connection_malformed"]


def test_missing_cell_file_points_at_its_entry(make_notebook: object) -> None:
    directory: Path = make_notebook({"a": "x = 1\n", "b": "y = 2\n"})  # type: ignore[operator]
    (directory / "cells" / "b.py").unlink()
    (diag,) = validate_notebook(directory).diagnostics
    assert (diag.code, diag.file, diag.cell_id) == ("cell_file_missing", "notebook.toml", "b")
    assert diag.line == (directory / "notebook.toml").read_text().split("\n").index('id = "b"') + 1


def test_entries_that_are_not_tables_are_reported_not_dropped() -> None:
    text = 'notebook_id = "x"\nmounts = ["m"]\nvariant_group = [3]\nworkers = [5]\n'
    found = by_code(text)
    assert found["mount_uri_unsupported"] == [(2, None)]
    assert found["variant_malformed"] == [(3, None)]
    assert found["worker_malformed"] == [(4, None)]


def test_dask_worker_without_a_scheduler_is_malformed() -> None:
    text = (
        'notebook_id = "x"\n'
        '[[workers]]\nname = "a"\nbackend = "dask"\n'
        '[[workers]]\nname = "b"\nbackend = "dask"\n[workers.config]\nscheduler = "tcp://h:8786"\n'
    )
    found = by_code(text)
    assert found["worker_malformed"] == [(2, None)]
    assert "dask worker 'a' has no scheduler" in str(check_manifest_text(text)[0].message)
