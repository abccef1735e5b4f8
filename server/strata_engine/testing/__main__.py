"""`python -m strata_engine.testing DIR [FILE ...] [--name NAME ...] [-k EXPR] [--report PATH]`:
a notebook's cell tests run by pytest inside this process.

`strata test` and the Test Explorer's Run profile start pytest in a subprocess; the Debug
profile launches this module under debugpy instead, so the debugged process is the one that
runs the tests (breakpoints in `cells/<id>.test.py` bind) with the very arguments the others
give pytest (`runner.pytest_arguments`: same plugin, `cell` fixture, node ids and `-k`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from strata_engine.model.notebook import NotebookError
from strata_engine.testing.runner import (
    CAPTURED_OPTIONS,
    NO_TESTS_COLLECTED,
    find_test_files,
    pytest_arguments,
    selected_targets,
)

USAGE_ERROR = 4
"""pytest's exit code for a usage error."""


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m strata_engine.testing",
        description="Run a notebook's cell tests (cells/<id>.test.py) with pytest in this "
        "process, as strata test does in a subprocess.",
    )
    parser.add_argument("directory", type=Path, help="the notebook's directory")
    parser.add_argument("files", nargs="*", type=Path, help="cell test files (default: all)")
    parser.add_argument(
        "--name", action="append", default=[], help="a test function of the one FILE"
    )
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest's -k: select tests")
    parser.add_argument("--report", type=Path, help="write the outcomes as JSON to PATH")
    return parser.parse_args(list(argv))


def selected_files(directory: Path, files: Sequence[Path]) -> list[Path]:
    """`files` (every cell test of the notebook when none), each checked to be one of them."""
    known = find_test_files(directory)
    if not files:
        return known
    chosen = [f.resolve() for f in files]
    for path in chosen:
        if path not in known:
            tests = ", ".join(str(k) for k in known) or "none"
            raise NotebookError(f"{path} is not a cell test of {directory} (its tests: {tests})")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    directory = args.directory.resolve()
    try:
        files = selected_files(directory, args.files)
        targets = selected_targets(files, args.name)
    except (NotebookError, ValueError) as exc:
        print(f"strata_engine.testing: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if not files:
        print(f"strata_engine.testing: no cell tests in {directory / 'cells'}", file=sys.stderr)
        return NO_TESTS_COLLECTED
    import pytest  # only here: `--help` and argument errors need no pytest

    arguments = pytest_arguments(
        directory, targets, keyword=args.keyword, report=args.report, extra=CAPTURED_OPTIONS
    )
    return int(pytest.main(arguments))


if __name__ == "__main__":
    raise SystemExit(main())
