"""What the fuzz tests check on every example: the CLI answers with a message (never a
traceback, never the last-resort "unexpected error"), the loader raises only NotebookError
naming the file (and its line for a parse error), every diagnostic names its file (and its
line when it is about notebook.toml), and a failed parse leaves the directory as it was."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from pathlib import Path

from strata_engine.analysis.validation import validate_notebook
from strata_engine.cli import main
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.notebook import NotebookError, NotebookParseError, load_notebook

MANIFEST = "notebook.toml"


def tree_digest(root: Path) -> str:
    """Every path, type and content under `root` (symlinks not followed)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            path = Path(dirpath) / name
            digest.update(str(path.relative_to(root)).encode("utf-8", "surrogateescape"))
            if path.is_symlink():
                digest.update(b"L" + os.readlink(path).encode("utf-8", "surrogateescape"))
            elif path.is_file():
                digest.update(b"F" + path.read_bytes())
            else:
                digest.update(b"D")
    return digest.hexdigest()


def run_cli(*argv: str | Path) -> tuple[int, str, str]:
    """The CLI in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def check_cli(command: str, directory: Path) -> int:
    before = tree_digest(directory)
    code, _out, err = run_cli(command, directory)
    assert "Traceback" not in err, err
    assert "unexpected error" not in err, err  # the last resort means a bug got that far
    assert code in (0, 1, 2), (code, err)
    if code == 2:
        assert err.startswith("strata: ") and str(directory) in err, err
        if f"{MANIFEST}" in err:  # a refusal of the manifest says where in it
            assert re.search(rf"{MANIFEST}:\d+", err), err
        assert tree_digest(directory) == before, f"`strata {command}` failed and wrote: {err}"
    if command == "validate":
        assert tree_digest(directory) == before, "validate wrote to the notebook"
    return code


def check_diagnostic(diag: Diagnostic) -> None:
    assert diag.file, diag
    if diag.file == MANIFEST:
        assert diag.span is not None, diag


def check_load(directory: Path) -> bool:
    """Load and validate `directory`; True when it loaded. Failures must be NotebookErrors
    naming notebook.toml (with a line for parse errors), and must not touch the disk."""
    before = tree_digest(directory)
    try:
        load_notebook(directory)
        diagnostics = validate_notebook(directory).diagnostics
    except NotebookParseError as exc:
        assert exc.line is not None and exc.line >= 1, str(exc)
        assert f"{MANIFEST}:{exc.line}" in str(exc), str(exc)
        assert tree_digest(directory) == before
        return False
    except NotebookError as exc:
        assert str(directory) in str(exc), str(exc)
        assert tree_digest(directory) == before
        return False
    for diag in diagnostics:
        check_diagnostic(diag)
    assert tree_digest(directory) == before
    return True
