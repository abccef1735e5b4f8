"""`strata`'s command line: each command's arguments, built only for the command invoked
(argparse's help-text lookups for every command cost a cached `strata run` ~20 ms)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _parser(only: _OneCommand | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or with `only` just that command's (see `_parse`)."""
    parser = _Parser(prog="strata", description="Content-addressed notebooks.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: Any = subparsers if only is None else only.wrap(subparsers)
    run = commands.add_parser("run", help="run every cell against the cache")
    run.add_argument("directory", type=Path)
    run.add_argument("--force", action="store_true", help="ignore the cache")
    run.add_argument("--format", choices=("human", "json"), default="human")
    run.add_argument("--quiet", action="store_true", help="no per-cell lines (human format)")
    run.add_argument(
        "--timeout",
        type=_timeout_argument,
        help="per-cell limit in seconds (0 < S <= 86400) for cells that do not set their own",
    )
    run.add_argument("--no-sync", action="store_true", help="do not sync the environment")
    run.add_argument(
        "--worker",
        metavar="NAME",
        help="run cells that name no worker on NAME (a [[workers]] entry, or local)",
    )
    run.add_argument(
        "--jobs",
        type=_jobs_argument,
        metavar="N",
        help="run up to N independent cells on this machine at once (default: one per "
        "core); cells on remote workers do not count",
    )
    validate = commands.add_parser("validate", help="static checks; nothing is executed")
    validate.add_argument("directory", type=Path)
    validate.add_argument("--format", choices=("human", "json"), default="human")
    status = commands.add_parser("status", help="each cell's state and reasons")
    status.add_argument("directory", type=Path)
    status.add_argument(
        "--worker",
        metavar="NAME",
        help="the states a `strata run --worker NAME` would find (keys include the worker)",
    )
    dag = commands.add_parser("dag", help="edges and order")
    dag.add_argument("directory", type=Path)
    new = commands.add_parser("new", help="create a notebook directory")
    new.add_argument("name")
    cache = commands.add_parser("cache", help="artifact store maintenance")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    gc = cache_commands.add_parser("gc", help="remove unreferenced and least recently used blobs")
    gc.add_argument("directory", type=Path, nargs="?", default=Path("."))
    gc.add_argument("--max-size", help='e.g. "20GB" (default: [cache] max_size)')
    commands.add_parser("lsp", help="the language server on stdin/stdout")
    _add_env_parser(commands)
    _add_worker_parser(commands)
    _add_jupyter_parsers(commands)
    _add_test_parser(commands)
    _add_snapshot_parsers(commands)
    _add_promote_parser(commands)
    _add_mcp_parser(commands)
    return parser


class _Formatter(argparse.HelpFormatter):
    """argparse builds a formatter for every argument it adds, and the default one imports
    shutil (~4 ms of a cached `strata run`) for the terminal width only help text uses."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        width = _columns() - 2 if width is None else width  # what the default does
        super().__init__(prog, indent_increment, max_help_position, width)


def _columns() -> int:
    """`shutil.get_terminal_size().columns`, without importing shutil."""
    with contextlib.suppress(ValueError):
        if (columns := int(os.environ.get("COLUMNS", "0"))) > 0:
            return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns if columns > 0 else 80


class _Parser(argparse.ArgumentParser):
    """Every parser and subparser (argparse makes them of the root's class) formats with
    `_Formatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def _add_env_parser(commands: Any) -> None:
    env = commands.add_parser("env", help="the notebook's own environment (pyproject.toml)")
    env.add_argument("directory", type=Path)
    actions = env.add_subparsers(dest="env_command", metavar="ACTION")
    actions.add_parser("info", help="interpreter, .venv, lock hash and state (JSON; default)")
    actions.add_parser("sync", help="create or update .venv with uv")
    add = actions.add_parser("add", help="add a package to pyproject.toml, then sync")
    add.add_argument("package")


def _add_worker_parser(commands: Any) -> None:
    if not _wants(commands, "worker"):  # importing its module costs `strata run` ~2 ms
        return
    from strata_engine.worker.command import add_arguments

    add_arguments(commands.add_parser("worker", help="serve executor protocol v1 (SPEC 13)"))


def _add_mcp_parser(commands: Any) -> None:
    # Arguments only: the tools and the mcp SDK are imported when `strata mcp` serves.
    mcp = commands.add_parser("mcp", help="serve the notebook tools to MCP clients (stdio)")
    mcp.add_argument("directory", type=Path, nargs="?", default=Path("."))
    mcp.add_argument("--allow-run", action="store_true", help="let tools execute cells")
    mcp.add_argument(
        "--http",
        action="store_true",
        help="streamable HTTP on 127.0.0.1 instead of stdio; needs $STRATA_MCP_TOKEN",
    )
    mcp.add_argument("--port", type=int, default=8766, help="with --http (0: any free port)")


def _add_jupyter_parsers(commands: Any) -> None:
    imports = commands.add_parser("import", help="a Jupyter .ipynb -> a Strata notebook")
    imports.add_argument("notebook", type=Path, metavar="NOTEBOOK.ipynb")
    imports.add_argument(
        "-o", "--output", type=Path, metavar="DIR", help="default: NOTEBOOK beside the file"
    )
    imports.add_argument("--format", choices=("human", "json"), default="human")
    export = commands.add_parser("export", help="sources and cached outputs as HTML or Markdown")
    export.add_argument("directory", type=Path)
    export.add_argument("--to", choices=("html", "md"), required=True)
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="default: DIR/../NAME.html or .md"
    )


def _add_snapshot_parsers(commands: Any) -> None:
    if not (_wants(commands, "freeze") or _wants(commands, "verify")):
        return
    from strata_engine.snapshots.command import add_parsers

    add_parsers(commands)


def _add_promote_parser(commands: Any) -> None:
    promote = commands.add_parser(
        "promote", help="move a cell's functions and classes into a module; the cell imports them"
    )
    promote.add_argument("directory", type=Path)
    promote.add_argument("cell", help="the cell's id")
    promote.add_argument(
        "--to", type=Path, required=True, metavar="PATH.py", help="inside the notebook directory"
    )
    promote.add_argument("--format", choices=("human", "json"), default="human")


def _add_test_parser(commands: Any) -> None:
    test = commands.add_parser("test", help="run the cells' tests (cells/<id>.test.py) in pytest")
    test.add_argument("directory", type=Path)
    test.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest's -k: select tests")


def _jobs_argument(text: str) -> int:
    """argparse type: a whole number of concurrent local cells, at least 1."""
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number >= 1; write e.g. --jobs 4"
        )
    return int(text)


def _timeout_argument(text: str) -> float:
    """argparse type: refuse up front what would mean no limit (nan, inf), overflow
    (1e309), kill every cell at once (0, -1), or was never an ASCII number."""
    from strata_engine.model.timeouts import TIMEOUT_RULE, parse_timeout_text

    seconds = parse_timeout_text(text)
    if seconds is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {TIMEOUT_RULE}; write e.g. --timeout 300"
        )
    return seconds


class _OneCommand:
    """Stands in for the subparsers action so that only the named command gets a parser."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found = False
        self._commands: Any = None

    def wrap(self, commands: Any) -> _OneCommand:
        self._commands = commands
        return self

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name != self.name:
            return _IGNORED
        self.found = True
        return self._commands.add_parser(name, **kwargs)


class _Ignored:
    """Takes any parser-building call and drops it: the parser of a command not invoked."""

    def __getattr__(self, name: str) -> Any:
        return self._ignore

    def _ignore(self, *args: Any, **kwargs: Any) -> _Ignored:
        return self


_IGNORED = _Ignored()


def _wants(commands: Any, name: str) -> bool:
    """Whether the parser of `name` is being built (so its module is worth importing)."""
    return not isinstance(commands, _OneCommand) or commands.name == name


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """argparse asks gettext for every help text of every command it builds (~20 ms for all
    of them, a tenth of a cached `strata run`), so only the named command's parser is built.
    Without one (`strata --help`, a typo) every command is, to be listed."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words and not words[0].startswith("-"):
        only = _OneCommand(words[0])
        parser = _parser(only)
        if only.found:
            return parser.parse_args(words)
    return _parser().parse_args(words)
