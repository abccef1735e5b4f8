"""`# strata: magic_unsupported ...` comments: IPython magics a Jupyter import commented out.

Strata cells are plain Python, so `strata import` (jupyter/importer.py) turns each magic or
shell escape into a marker comment holding the original text. The Python kind reports every
marker as `magic_unsupported` (a warning) until the user rewrites it in Python and deletes the
line, so the loss is visible in `strata validate` and the editor, not only in the import log.
The marker is the one contract between the two sides: its format and its reading live here.
"""

from __future__ import annotations

import io
import re
import tokenize

from strata_engine.model.diagnostics import Diagnostic, Span, make

MARKER = "strata: magic_unsupported"
_MARKER_COMMENT = re.compile(r"#\s*strata:\s*magic_unsupported\b[ \t]?(?P<magic>.*)$")
_MAGIC_NAME = re.compile(r"^(?:[\w.]+\s*=\s*)?(?P<prefix>%%|%|!!|!|\?\??)?\s*(?P<name>[\w.-]*)")

HINTS: dict[str, str] = {
    "!": "run the command with subprocess.run([...], check=True)",
    "!!": "run the command with subprocess.run([...], check=True)",
    "?": "help is an editor feature (hover), not cell code",
    "??": "help is an editor feature (hover), not cell code",
    "%%bash": "run the script with subprocess.run(['bash', '-c', SCRIPT], check=True)",
    "%%sh": "run the script with subprocess.run(['sh', '-c', SCRIPT], check=True)",
    "%%sql": 'make it a SQL cell (language = "sql" with # @sql connection=NAME)',
    "%matplotlib": "Strata captures matplotlib figures without it",
    "%pip": "declare the package in the notebook's pyproject.toml",
    "%conda": "declare the package in the notebook's pyproject.toml",
    "%time": "the statement after it was kept and runs once; Strata records each cell's duration",
    "%%time": "the cell's code was kept and runs once; Strata records each cell's duration",
    "%timeit": "the statement after it was kept and runs once; time it in bench code instead",
    "%%timeit": "the cell's code was kept and runs once; time it in bench code instead",
    "%load_ext": "Strata cells run without IPython extensions",
    "%autoreload": "each Strata cell runs in a fresh process, so modules are always reloaded",
    "%env": "set it with # @env KEY=VALUE or the notebook's [env]",
    "%cd": "use paths relative to the notebook (or a # @mount)",
    "%run": "import the script's functions, or make it a cell",
}
"""Per magic (prefix + name, or just the prefix for shell escapes and help): what to write
instead. A magic without a hint gets the general advice."""

_GENERAL = "rewrite it in Python"


def marker(magic: str) -> str:
    """The comment that replaces `magic` (one line of IPython syntax) in an imported cell."""
    return f"# {MARKER} {magic.strip()}"


def magic_key(magic: str) -> str:
    """`%time x = f()` -> `%time`, `!pip install x` -> `!`, `files = !ls` -> `!`."""
    match = _MAGIC_NAME.match(magic.strip())
    if match is None or not match.group("prefix"):
        return magic.strip().split(" ", 1)[0]
    prefix = match.group("prefix")
    if prefix in ("!", "!!", "?", "??"):
        return prefix
    return prefix + match.group("name")


def hint(magic: str) -> str:
    return HINTS.get(magic_key(magic), _GENERAL)


def magic_diagnostics(text: str, *, cell_id: str | None, file: str | None) -> list[Diagnostic]:
    """One `magic_unsupported` per marker comment in a Python cell's text."""
    if "magic_unsupported" not in text:  # the common case costs one scan
        return []
    found = []
    for line, col, comment in _comments(text):
        match = _MARKER_COMMENT.match(comment)
        if match is None:
            continue
        magic = match.group("magic").strip()
        found.append(
            make(
                "magic_unsupported",
                f"IPython magic `{magic}` is not supported in Strata cells and was imported "
                f"as a comment: {hint(magic)}; then delete this line",
                cell_id=cell_id,
                file=file,
                span=Span.on_line(line, col, col + len(comment)),
                data={"magic": magic_key(magic)},
            )
        )
    return found


def _comments(text: str) -> list[tuple[int, int, str]]:
    """(line, column, text) of each comment; comment-looking text inside strings is not one.
    A cell that does not tokenize (a syntax error elsewhere) falls back to whole lines."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        return [(t.start[0], t.start[1], t.string) for t in tokens if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        comments = []
        for number, line in enumerate(text.splitlines(), start=1):
            col = line.find("#")
            if col >= 0:
                comments.append((number, col, line[col:]))
        return comments
