"""`strata`: dispatch and output formatting only (SPEC 12); arguments are in `cli_args.py`, the
work is in `Session`.

Exit codes: 0 success, 1 a cell failed / the notebook has errors, 2 invocation error.
Machine output goes to stdout; logs and diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata_engine.cli_args import parse_args
from strata_engine.model.errors import NotebookError

if TYPE_CHECKING:  # a first run starts its worker before importing dataclasses
    from strata_engine.model.diagnostics import Diagnostic
    from strata_engine.run.events import Event
    from strata_engine.run.report import CellRun, RunReport

EXIT_OK, EXIT_FAILED, EXIT_INVOCATION = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return _dispatch(args)
    except Exception as exc:  # the last resort: a message, never a traceback
        return _report_unexpected(args, exc)


def _dispatch(args: argparse.Namespace) -> int:
    handler = {
        "run": cmd_run,
        "validate": cmd_validate,
        "status": cmd_status,
        "dag": cmd_dag,
        "new": cmd_new,
        "cache": cmd_cache_gc,
        "lsp": cmd_lsp,
        "env": cmd_env,
        "worker": cmd_worker,
        "import": cmd_import,
        "export": cmd_export,
        "test": cmd_test,
        "freeze": cmd_freeze,
        "verify": cmd_verify,
        "promote": cmd_promote,
        "mcp": cmd_mcp,
    }[args.command]
    try:
        return handler(args)
    except NotebookError as exc:
        print(f"strata: {exc}", file=sys.stderr)
        return EXIT_INVOCATION
    except KeyboardInterrupt:
        print("strata: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (`strata status nb | head`)
        _silence_stdout()
        return EXIT_FAILED
    except _index_errors() as exc:
        directory = getattr(args, "directory", None) or Path(".")
        print(
            f"strata: {directory}: the cache index cannot be opened or written ({exc}); "
            f"check that {directory / '.strata'} (or the [cache] store) is a writable "
            "directory, or remove it to start afresh",
            file=sys.stderr,
        )
        return EXIT_INVOCATION
    except OSError as exc:
        where = exc.filename if exc.filename is not None else getattr(args, "directory", ".")
        reason = exc.strerror or str(exc)
        print(f"strata: {where}: {reason}; check the path and its permissions", file=sys.stderr)
        return EXIT_INVOCATION


def _index_errors() -> tuple[type[Exception], ...]:
    """sqlite3.Error once something imported sqlite3 (until then nothing can raise one):
    importing it here would delay a first run's worker start by ~6 ms."""
    sqlite3 = sys.modules.get("sqlite3")
    return (sqlite3.Error,) if sqlite3 is not None else ()


def _report_unexpected(args: argparse.Namespace, exc: Exception) -> int:
    """A problem nobody anticipated: one line naming it and how to get the details. The
    traceback is for bug reports (STRATA_TRACEBACK=1), not for users."""
    if os.environ.get("STRATA_TRACEBACK"):
        raise exc
    kind = "recursion too deep" if isinstance(exc, RecursionError) else type(exc).__name__
    print(
        f"strata {args.command}: unexpected error ({kind}: {exc}); if the notebook looks "
        "fine, please report this with the output of STRATA_TRACEBACK=1 strata ...",
        file=sys.stderr,
    )
    return EXIT_INVOCATION


def _silence_stdout() -> None:
    """Point stdout at /dev/null so later writes (and the interpreter's final flush) do not
    raise again once the reading end of a pipe is closed."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _print_json(value: Any) -> None:
    from strata_engine.json_indent import dumps_indented  # json.dumps(indent=2), ~2x faster

    sys.stdout.write(dumps_indented(value) + "\n")


def _format_diagnostic(diag: Diagnostic) -> str:
    where = diag.file or "notebook.toml"
    if diag.span is not None:
        where += f":{diag.span.line}:{diag.span.col + 1}"
    return f"{where}: {diag.severity} [{diag.code}] {diag.message}"


# -- run ---------------------------------------------------------------------------------
_STATUS_WORD = {"ok": "ok", "error": "error", "skipped": "skipped"}


def _human_line(run: CellRun, label: str) -> str:
    word = "cached" if run.cache_hit else _STATUS_WORD[run.status]
    time_text = f"{run.duration_ms / 1000:.2f}s" if run.executed else ""
    line = f"  {word:<8} {label:<32} {time_text}".rstrip()
    if run.status == "error" and run.error:
        line += f"\n           {run.error}"
    elif run.status == "skipped" and run.reason:
        line += f"\n           {run.reason}"
    for warning in run.warnings:
        line += f"\n           {_format_diagnostic(warning)}"
    return line


def cmd_run(args: argparse.Namespace) -> int:
    from strata_engine.backends.local import prestart

    with prestart.ending_soon():  # the process ends with the command
        prestart.start_for_first_run(sys.executable, args.directory)  # every cell will run
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    human = args.format == "human"
    from strata_engine.run import settled

    if not args.force and (quick := settled.settled_run(args.directory, args.worker)):
        report, labels = quick
        if human and not args.quiet:
            for run in report.cells:
                print(_human_line(run, labels[run.id]))
        return _print_report(human, report)
    from strata_engine.run.events import CellFinished
    from strata_engine.run.session import Session

    with _collector_paused() as resume, Session(args.directory, worker=args.worker) as session:
        snapshot = session.snapshot()
        resume()
        for diag in snapshot.all_diagnostics():
            if diag.severity != "info":
                print(_format_diagnostic(diag), file=sys.stderr)
        labels = {v.id: v.annotations.name or v.id for v in snapshot.cells.values()}

        def on_event(event: Event) -> None:
            if human and not args.quiet and isinstance(event, CellFinished):
                line = _human_line(event.run, labels.get(event.run.id, event.run.id))
                try:
                    print(line, flush=True)
                except BrokenPipeError:  # `strata run nb | head`: the run itself goes on
                    _silence_stdout()

        report = session.run(
            "force" if args.force else "all",
            overrides=None,
            on_event=on_event,
            timeout=args.timeout,
            jobs=args.jobs,
            sync=not args.no_sync,
            on_env_output=_env_output,
            snapshot=snapshot,  # analyzing a 10,000-cell notebook twice cost a second
        )
    return _print_report(human, report)


def _print_report(human: bool, report: RunReport) -> int:
    if human:
        print(_summary(report.cells, report.duration_ms))
    else:
        _print_json(
            {
                "notebook": report.notebook,
                "success": report.success,
                "duration_ms": round(report.duration_ms, 1),
                "cells": [c.to_json() for c in report.cells],
            }
        )
    return EXIT_OK if report.success else EXIT_FAILED


def _summary(cells: list[CellRun], duration_ms: float) -> str:
    counts = {
        "ok": sum(c.status == "ok" and not c.cache_hit for c in cells),
        "cached": sum(c.cache_hit for c in cells),
        "error": sum(c.status == "error" for c in cells),
        "skipped": sum(c.status == "skipped" for c in cells),
    }
    parts = ", ".join(f"{n} {word}" for word, n in counts.items() if n)
    return f"{len(cells)} cells: {parts or 'nothing to do'} in {duration_ms / 1000:.2f}s"


# -- static commands ------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    from strata_engine.analysis.validation import validate_notebook

    result = validate_notebook(args.directory)
    if args.format == "json":
        _print_json(result.to_json())
    else:
        for diag in result.diagnostics:
            print(_format_diagnostic(diag))
        print(result.summary_line())
    return EXIT_OK if result.valid else EXIT_FAILED


@contextlib.contextmanager
def _collector_paused() -> Iterator[Callable[[], None]]:
    """No cyclic garbage collection while a notebook is loaded and analyzed: what that
    builds lives until the command ends, and the collector walking it again and again as
    it piles up cost ~12% of `strata status` on 10,000 cells. Yields `resume`: collect
    again from there on (a run may execute for hours), leaving what is built so far out of
    every later collection (the notebook and its snapshot live as long as the run)."""
    import gc

    enabled = gc.isenabled()

    def resume() -> None:
        if enabled and not gc.isenabled():
            gc.freeze()
            gc.enable()

    gc.disable()
    try:
        yield resume
    finally:
        if enabled:
            gc.enable()


def cmd_status(args: argparse.Namespace) -> int:
    from strata_engine.run import settled

    quick = settled.settled_states(args.directory, args.worker)
    if quick is not None:
        notebook_id, statuses = quick
        _print_json({"notebook": notebook_id, "cells": [s.to_json() for s in statuses]})
        return EXIT_OK
    from strata_engine.run.session import Session

    with _collector_paused(), Session(args.directory, worker=args.worker) as session:
        snapshot = session.snapshot()
        states = session.states(snapshot)
        _print_json(
            {
                "notebook": session.notebook.notebook_id,
                "cells": [status.to_json() for status in states.values()],
            }
        )
        settled.remember(snapshot, states, session.notebook.store_location)
    return EXIT_OK


def cmd_dag(args: argparse.Namespace) -> int:
    from strata_engine.analysis.dag_payload import dag_payload, loop_fields
    from strata_engine.analysis.snapshot import take_snapshot
    from strata_engine.model.notebook import load_notebook

    notebook = load_notebook(args.directory)
    snapshot = take_snapshot(notebook)
    # No store lookups here: the graph of the text (iteration counts come from the server).
    _print_json(dag_payload(notebook.notebook_id, snapshot.graph, loop_fields(snapshot)))
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from strata_engine.model.saving import create_notebook

    if not args.name.strip():
        raise NotebookError(
            "new: the notebook name is empty; give a directory name, e.g. strata new my_notebook"
        )
    directory = Path(args.name)
    # `strata new .` names the notebook after the current directory, not "".
    notebook = create_notebook(directory, directory.name or directory.resolve().name)
    print(f"created {notebook.manifest_path}; run it with: strata run {directory}")
    return EXIT_OK


def cmd_cache_gc(args: argparse.Namespace) -> int:
    from strata_engine.run.session import Session
    from strata_engine.store import collect_garbage, parse_size

    with Session(args.directory) as session:
        limit_text = args.max_size or session.notebook.manifest.store.max_size
        try:
            limit = parse_size(str(limit_text)) if limit_text is not None else None
        except ValueError as exc:
            raise NotebookError(f"--max-size: {exc}") from exc
        report = collect_garbage(session.blobs, session.index, limit)
    print(
        f"removed {report.blobs_removed} blobs ({report.bytes_removed} bytes), "
        f"{report.entries_removed} cache entries, {report.temp_files_removed} temp files; "
        f"{report.bytes_kept} bytes kept"
    )
    return EXIT_OK


LSP_REQUIREMENTS = ("pygls>=2.0", "lsprotocol>=2025.0.0", "jedi>=0.19")


def cmd_lsp(_args: argparse.Namespace) -> int:
    # The one place the CLI reaches the language server; imported lazily so that `strata
    # run` never pays for pygls. Its packages are required dependencies, but a broken or
    # hand-made environment can still lack them: say what to install, not a traceback.
    import importlib.util

    try:
        import strata_lsp.server  # noqa: F401  (pygls, lsprotocol)

        problem = None if importlib.util.find_spec("jedi") else "jedi is not installed"
    except ImportError as exc:
        problem = f"{exc.name or 'a package it needs'} cannot be imported ({exc})"
    if problem is not None:
        wanted = " ".join(f"'{r}'" for r in LSP_REQUIREMENTS)
        print(
            f"strata lsp: the language server cannot start in {sys.executable}: {problem}. "
            "Install its dependencies there: "
            f"{sys.executable} -m pip install {wanted} (or reinstall: pip install -e server)",
            file=sys.stderr,
        )
        return EXIT_INVOCATION
    from strata_lsp.__main__ import main as serve

    return serve()


def _env_output(text: str) -> None:
    """uv's output while a run or `strata env` syncs: a log, so stderr."""
    sys.stderr.write(text)
    sys.stderr.flush()


def cmd_env(args: argparse.Namespace) -> int:
    from strata_engine import envs
    from strata_engine.model.notebook import MANIFEST

    directory = args.directory
    if not (directory / MANIFEST).is_file():
        raise NotebookError(f"{directory}: no {MANIFEST}; give a notebook directory")
    action = args.env_command or "info"
    if action == "sync":
        env = envs.sync_environment(directory, _env_output)
    elif action == "add":
        env = envs.add_package(directory, args.package, _env_output)
    else:
        env = envs.environment_info(directory)
    _print_json(env.to_json())
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    from strata_engine.worker.command import serve

    return serve(args)


def cmd_import(args: argparse.Namespace) -> int:
    from strata_engine.jupyter.importer import import_notebook

    report = import_notebook(args.notebook, args.output)
    if args.format == "json":
        _print_json(report.to_json())
        return EXIT_OK
    for note in report.notes():
        print(f"strata import: {note}", file=sys.stderr)
    print(
        f"imported {report.cells} cells from {report.source} into {report.directory}; "
        f"run it with: strata run {report.directory}"
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from strata_engine.jupyter.exporter import export_notebook

    result = export_notebook(args.directory, args.to, args.output)
    for note in result.notes:
        print(f"strata export: {note}", file=sys.stderr)
    print(f"exported {result.cells} cells to {result.path}")
    return EXIT_OK


def cmd_freeze(args: argparse.Namespace) -> int:
    from strata_engine.snapshots.command import cmd_freeze as freeze

    return freeze(args)


def cmd_verify(args: argparse.Namespace) -> int:
    from strata_engine.snapshots.command import cmd_verify as verify

    return verify(args)


def cmd_mcp(args: argparse.Namespace) -> int:
    from strata_engine.agent.mcp_server import serve

    return serve(args)


def cmd_promote(args: argparse.Namespace) -> int:
    from strata_engine.promote import PromoteRefused, promote

    try:
        done = promote(args.directory, args.cell, args.to)
    except PromoteRefused as exc:
        print(f"strata promote: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.format == "json":
        _print_json(done.to_json())
    else:
        print(
            f"promoted {', '.join(done.names)} from cell {done.cell} into {done.module}; "
            f"skeleton tests in {done.test}"
        )
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    """pytest over the cell tests, its output on our stdout and its exit code as ours."""
    import subprocess

    from strata_engine.testing.runner import NO_TESTS_COLLECTED, find_test_files, pytest_command

    # Absolute: pytest runs in the notebook's directory, so relative test paths would break.
    directory = args.directory.resolve()
    files = find_test_files(directory)
    if not files:
        print(
            f"strata test: no cell tests in {args.directory / 'cells'} (write "
            "cells/<id>.test.py with tests taking the `cell` fixture)",
            file=sys.stderr,
        )
        return NO_TESTS_COLLECTED
    command = pytest_command(directory, files, keyword=args.keyword)
    return subprocess.run(command, cwd=directory, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
