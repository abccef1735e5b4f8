"""Property-based fuzzing of the annotation grammar (SPEC 4, issue [11]): random `# @...`
lines at the head of cells of every kind.

`parse_annotations` never raises and every diagnostic it reports names the cell's file and a
line of the annotation block with columns inside that line; the whole notebook (analysis,
graph, checks) validates with every diagnostic naming its file and line; `strata validate`
answers without a traceback and writes nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fuzz_support import check_cli, check_load, tree_digest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strata_engine.analysis.annotation_types import KNOWN_KEYS
from strata_engine.analysis.annotations import leading_block_end, parse_annotations, split_lines
from strata_engine.analysis.validation import validate_notebook

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOTEBOOK_SETTINGS = settings(SETTINGS, max_examples=100)
CLI_SETTINGS = settings(SETTINGS, max_examples=40)

VALUE_WORDS = (
    "1",
    "0",
    "-1",
    "1e400",
    "nan",
    "inf",
    "30s",
    "5m",
    "2h",
    "x",
    "a",
    "b",
    "w",
    "local",
    "remote",
    "data=s3://bucket/key",
    "m=file:///tmp",
    "ro",
    "rw",
    "mode=rw",
    "A=1",
    "B='x'",
    "connection=db",
    "db",
    "output=df",
    "write",
    "max_iter=3",
    "carry=x",
    "start_from=a@iter=2",
    "forever",
    "ttl=10",
    "session",
    "fingerprint",
    "json",
    "{",
    "}",
    '{"type": "object"}',
    "true",
    "off",
    "group",
    "[",
    "]",
    ",",
    "=",
    "@",
    "#",
    "'",
    '"',
    "\\",
    "\t",
    "é",
    "\u200b",
)
keys = st.one_of(
    st.sampled_from(KNOWN_KEYS),
    st.sampled_from([k.upper() for k in KNOWN_KEYS] + ["max-tokens", "timeout:30", "loop-until"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,10}", fullmatch=True),
)
values = st.one_of(
    st.lists(st.sampled_from(VALUE_WORDS), max_size=5).map(" ".join),
    st.text(max_size=30).map(lambda t: t.replace("\n", " ").replace("\r", " ")),
)
directive_lines = st.builds(
    lambda lead, key, gap, value: f"{lead}#{gap}@{key}{' ' if value else ''}{value}",
    st.sampled_from(["", " ", "\t", "  "]),
    keys,
    st.sampled_from(["", " ", "\t"]),
    values,
)
other_lines = st.sampled_from(["", "# a comment", "#", "# @", "#@", "   ", "\f"])
blocks = st.lists(st.one_of(directive_lines, other_lines), max_size=8)
bodies = st.sampled_from(
    ["x = 1\n", "y = x + 1\n", "", "def f(:\n", "select 1", "Hello {{ x }}", "# just text\n"]
)
newlines = st.sampled_from(["\n", "\r\n", "\r"])


def cell_text(block: list[str], newline: str, body: str) -> str:
    return newline.join([*block, body])


def check_annotations(text: str, file: str) -> None:
    parsed = parse_annotations(text, cell_id="c", file=file)
    lines = split_lines(text)
    end = leading_block_end(lines)
    assert parsed.body_start_line == end + 1
    for diag in parsed.diagnostics:
        assert diag.file == file and diag.cell_id == "c", diag
        span = diag.span
        assert span is not None, diag
        assert 1 <= span.line <= span.end_line <= max(end, 1), (diag, end)
        line = lines[span.line - 1]
        assert 0 <= span.col <= len(line) and 0 <= span.end_col <= len(line), (diag, line)
        assert diag.message, diag
    for directive in parsed.directives:
        assert 1 <= directive.line <= end


@SETTINGS
@given(block=blocks, newline=newlines, body=bodies)
def test_annotation_grammar_never_raises_and_places_every_diagnostic(
    block: list[str], newline: str, body: str
) -> None:
    check_annotations(cell_text(block, newline, body), "cells/c.py")


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    check_annotations(text, "cells/c.py")


LANGUAGES = {"python": "py", "sql": "sql", "prompt": "txt", "markdown": "md"}


def write_cells(root: Path, cells: list[tuple[str, str]]) -> Path:
    directory = root / "nb"
    (directory / "cells").mkdir(parents=True)
    manifest = ['notebook_id = "fuzz"', "", "[[connections]]", 'name = "db"']
    manifest += ['driver = "sqlite"', 'path = "db.sqlite"', ""]
    for order, (language, text) in enumerate(cells):
        file = f"c{order}.{LANGUAGES[language]}"
        (directory / "cells" / file).write_bytes(text.encode("utf-8", "surrogatepass"))
        manifest += [
            "[[cells]]",
            f'id = "c{order}"',
            f'file = "{file}"',
            f'language = "{language}"',
            f"order = {order}",
            "",
        ]
    (directory / "notebook.toml").write_text("\n".join(manifest))
    return directory


notebook_cells = st.lists(
    st.tuples(
        st.sampled_from(sorted(LANGUAGES)),
        st.builds(cell_text, blocks, newlines, bodies),
    ),
    min_size=1,
    max_size=4,
)


@NOTEBOOK_SETTINGS
@given(cells=notebook_cells)
def test_notebooks_of_random_annotations_validate_with_placed_diagnostics(
    cells: list[tuple[str, str]],
) -> None:
    with tempfile.TemporaryDirectory(prefix="strata-fuzz-") as root:
        directory = write_cells(Path(root), cells)
        assert check_load(directory)
        for diag in validate_notebook(directory).diagnostics:
            assert diag.file is not None and diag.span is not None, diag
            if diag.file.startswith("cells/"):
                text = (directory / diag.file).read_text()
                assert diag.span.line <= len(split_lines(text)), diag


@CLI_SETTINGS
@given(cells=notebook_cells)
def test_cli_validate_on_random_annotations(cells: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory(prefix="strata-fuzz-") as root:
        directory = write_cells(Path(root), cells)
        before = tree_digest(directory)
        assert check_cli("validate", directory) in (0, 1)
        assert tree_digest(directory) == before
