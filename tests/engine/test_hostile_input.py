"""Inputs an outsider (or a fuzzer) feeds the CLI and the loader: each is refused with a
clear message naming the file, never a hang, a traceback or a cell that runs anyway."""

from __future__ import annotations

import math
import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from strata_engine.analysis.annotations import parse_annotations
from strata_engine.cli import main
from strata_engine.model.manifest_checks import check_manifest_text, place_load_diagnostics
from strata_engine.model.manifest_spans import ManifestLocator
from strata_engine.model.notebook import NotebookError, NotebookParseError, load_notebook
from strata_engine.model.safe_read import MAX_CELL_BYTES, FileRefused, read_regular_file
from strata_engine.model.saving import save_notebook, write_cell_source
from strata_engine.model.timeouts import parse_timeout_text, valid_timeout
from strata_engine.run.session import InvocationError, Session

HUGE = "9" * 400


def notebook(
    root: Path, manifest_tail: str = "", *, head: str = "", source: str = "x = 1\n"
) -> Path:
    """One python cell `a` in cells/a.py; `head` goes before the cell table, `manifest_tail`
    inside it (extra keys of the cell entry)."""
    (root / "cells").mkdir(parents=True, exist_ok=True)
    (root / "cells" / "a.py").write_text(source)
    manifest = f'notebook_id = "hostile"\n{head}\n[[cells]]\nid = "a"\nfile = "a.py"\n'
    (root / "notebook.toml").write_text(manifest + "order = 1\n" + manifest_tail)
    return root


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr). argparse errors exit via
    SystemExit."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# -- timeouts: one rule everywhere ----------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 0, 0.0, -1, -5.0, 86400.5, 1e300, int(HUGE), True, "30"],
)
def test_invalid_timeout_values(value: object) -> None:
    assert valid_timeout(value) is None


@pytest.mark.parametrize(("value", "seconds"), [(30, 30.0), (0.5, 0.5), (86400, 86400.0)])
def test_valid_timeout_values(value: object, seconds: float) -> None:
    assert valid_timeout(value) == seconds


@pytest.mark.parametrize(
    "text", ["nan", "NaN", "inf", "1e309", "-1", "0", "５", "1_0", "", " ", "0x10", "1e300", HUGE]
)
def test_invalid_timeout_text(text: str) -> None:
    assert parse_timeout_text(text) is None


@pytest.mark.parametrize(("text", "seconds"), [("30", 30.0), (" 2.5 ", 2.5), ("1e3", 1000.0)])
def test_valid_timeout_text(text: str, seconds: float) -> None:
    assert parse_timeout_text(text) == seconds


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "５", "1e309"])
def test_timeout_annotation_refuses(value: str) -> None:
    parsed = parse_annotations(f"# @timeout {value}\nx = 1\n")
    assert parsed.timeout is None
    assert [d.code for d in parsed.diagnostics] == ["timeout_not_numeric"]


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0", "1e300", HUGE, "true"])
def test_manifest_timeouts_are_ignored_and_reported(tmp_path: Path, value: str) -> None:
    nb = notebook(tmp_path, f"timeout = {value}\n", head=f"timeout = {value}")
    loaded = load_notebook(nb)
    assert loaded.cells[0].timeout is None
    assert loaded.default_timeout is None
    found = check_manifest_text((nb / "notebook.toml").read_text())
    assert [d.code for d in found] == ["timeout_not_numeric", "timeout_not_numeric"]
    assert all("86400" in d.message and "ignored" in d.message for d in found)


def test_valid_manifest_timeouts_are_used(tmp_path: Path) -> None:
    loaded = load_notebook(notebook(tmp_path, "timeout = 7\n", head="timeout = 60"))
    assert (loaded.cells[0].timeout, loaded.default_timeout) == (7.0, 60.0)


@pytest.mark.parametrize("value", ["nan", "inf", "1e309", "-1", "0", "５", "1e300"])
def test_cli_timeout_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, _, err = cli(capsys, "run", notebook(tmp_path), "--timeout", value)
    assert code == 2
    assert "--timeout" in err and "86400" in err
    assert not (tmp_path / ".strata").exists()  # refused before anything ran


# -- files that are not cell files ----------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_cell_is_refused_without_blocking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = notebook(tmp_path)
    (nb / "cells" / "a.py").unlink()
    os.mkfifo(nb / "cells" / "a.py")  # nobody ever writes: opening it blocking would hang
    loaded = load_notebook(nb)
    (diag,) = loaded.diagnostics
    assert (diag.code, loaded.cells[0].source) == ("parse_failed", None)
    assert "cells/a.py" in diag.message and "FIFO" in diag.message
    code, out, _ = cli(capsys, "validate", nb)
    assert code == 1 and "FIFO" in out
    for command in ("dag", "status"):
        assert cli(capsys, command, nb)[0] == 0


def test_device_is_refused_without_reading() -> None:
    devices = [Path(p) for p in ("/dev/zero", "/dev/full", "/dev/random")]
    device = next((p for p in devices if p.exists() and stat.S_ISCHR(p.stat().st_mode)), None)
    if device is None:
        pytest.skip("no character device to try")
    with pytest.raises(FileRefused, match="a device"):
        read_regular_file(device, 1024)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs unix sockets")
def test_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    if len(str(path)) > 100:
        pytest.skip("socket path too long for this platform")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(FileRefused, match="a socket"):
            read_regular_file(path, 1024)


def test_oversized_cell_is_refused_with_size_and_limit(tmp_path: Path) -> None:
    nb = notebook(tmp_path, source="#" * (MAX_CELL_BYTES + 1))
    loaded = load_notebook(nb)
    (diag,) = loaded.diagnostics
    assert loaded.cells[0].source is None
    assert diag.code == "parse_failed"
    assert "cells/a.py" in diag.message and "5 MiB" in diag.message
    assert str(MAX_CELL_BYTES + 1) in diag.message


def test_cell_at_the_limit_is_read(tmp_path: Path) -> None:
    loaded = load_notebook(notebook(tmp_path, source="#" * MAX_CELL_BYTES))
    assert loaded.diagnostics == [] and loaded.cells[0].source is not None


def test_cells_directory_symlinked_outside_never_runs(tmp_path: Path) -> None:
    nb = notebook(tmp_path / "nb")
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = tmp_path / "ran"
    (outside / "a.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    for child in (nb / "cells").iterdir():
        child.unlink()
    (nb / "cells").rmdir()
    os.symlink(outside, nb / "cells")
    loaded = load_notebook(nb)
    assert loaded.cells[0].source is None
    (diag,) = loaded.diagnostics
    assert diag.code == "cell_path_outside" and "outside the notebook" in diag.message
    proc = subprocess.run(
        [sys.executable, "-m", "strata_engine.cli", "run", str(nb)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "cell_path_outside" in proc.stderr and "Traceback" not in proc.stderr
    assert not marker.exists()


def test_cells_symlinked_inside_the_notebook_still_works(tmp_path: Path) -> None:
    nb = notebook(tmp_path)
    (nb / "cells").rename(nb / "src")
    os.symlink(nb / "src", nb / "cells")
    assert load_notebook(nb).cells[0].source == "x = 1\n"


def test_cells_being_a_file_is_an_invocation_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = notebook(tmp_path)
    (nb / "cells" / "a.py").unlink()
    (nb / "cells").rmdir()
    (nb / "cells").write_text("not a directory\n")
    with pytest.raises(NotebookError, match="not a directory"):
        load_notebook(nb)
    code, _, err = cli(capsys, "validate", nb)
    assert code == 2 and "cells" in err and "not a directory" in err


def test_symlink_loop_between_cell_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = notebook(tmp_path)
    (nb / "cells" / "a.py").unlink()
    os.symlink("b.py", nb / "cells" / "a.py")
    os.symlink("a.py", nb / "cells" / "b.py")
    loaded = load_notebook(nb)
    (diag,) = loaded.diagnostics
    assert diag.code == "parse_failed" and "cells/a.py" in diag.message
    assert loaded.cells[0].source is None
    assert cli(capsys, "validate", nb)[0] == 1


def test_null_byte_in_file_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = notebook(tmp_path)
    manifest = nb / "notebook.toml"
    manifest.write_text(manifest.read_text().replace('file = "a.py"', 'file = "a\\u0000.py"'))
    loaded = load_notebook(nb)
    (diag,) = loaded.diagnostics
    assert diag.code == "parse_failed" and "NUL" in diag.message
    assert cli(capsys, "validate", nb)[0] == 1


# -- manifests that parse badly or not at all -----------------------------------------------------
def test_huge_order_is_an_invocation_error_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = notebook(tmp_path)
    manifest = nb / "notebook.toml"
    manifest.write_text(manifest.read_text().replace("order = 1", f"order = {HUGE}"))
    with pytest.raises(NotebookParseError) as info:
        load_notebook(nb)
    assert info.value.line == 6
    assert "`order`" in str(info.value)
    code, _, err = cli(capsys, "validate", nb)
    assert code == 2 and "notebook.toml:6" in err


def test_nan_order_is_refused(tmp_path: Path) -> None:
    nb = notebook(tmp_path)
    manifest = nb / "notebook.toml"
    manifest.write_text(manifest.read_text().replace("order = 1", "order = nan"))
    with pytest.raises(NotebookParseError, match="NaN"):
        load_notebook(nb)


def test_deeply_nested_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = "deep = " + "[" * 5000 + "]" * 5000 + "\n"
    nb = notebook(tmp_path, head=nested)
    with pytest.raises(NotebookParseError, match="nest"):
        load_notebook(nb)
    (diag,) = check_manifest_text((nb / "notebook.toml").read_text())
    assert diag.code == "parse_failed" and "nest" in diag.message
    assert cli(capsys, "validate", nb)[0] == 2


def test_truncated_string_reports_line_and_column(tmp_path: Path) -> None:
    nb = notebook(tmp_path)
    (nb / "notebook.toml").write_text('notebook_id = "x"\nname = "trunc')
    with pytest.raises(NotebookParseError) as info:
        load_notebook(nb)
    assert (info.value.line, info.value.column) == (2, 14)
    assert "notebook.toml:2:14" in str(info.value) and "end of the file" in str(info.value)
    (diag,) = check_manifest_text('notebook_id = "x"\nname = "trunc')
    assert diag.span is not None and diag.span.line == 2


def test_cells_of_the_wrong_type_says_so_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "notebook.toml").write_text('notebook_id = "x"\ncells = "abc"\n')
    with pytest.raises(NotebookParseError) as info:
        load_notebook(tmp_path)
    message = str(info.value)
    assert info.value.line == 2 and "notebook.toml:2" in message
    assert "`cells`" in message and "array of tables" in message and "a string" in message
    assert "TOML syntax" not in message
    (diag,) = check_manifest_text('notebook_id = "x"\ncells = "abc"\n')
    assert diag.span is not None and diag.span.line == 2 and "array of tables" in diag.message


def test_bom_is_accepted_and_never_rewritten(tmp_path: Path) -> None:
    nb = notebook(tmp_path)
    manifest = nb / "notebook.toml"
    original = b"\xef\xbb\xbf" + manifest.read_bytes()
    manifest.write_bytes(original)
    loaded = load_notebook(nb)
    assert [c.id for c in loaded.cells] == ["a"]
    assert check_manifest_text(original.decode("utf-8")) == ()
    assert save_notebook(loaded) is False
    assert manifest.read_bytes() == original


def test_utf16_manifest_is_named(tmp_path: Path) -> None:
    (tmp_path / "notebook.toml").write_bytes('notebook_id = "x"\n'.encode("utf-16"))
    with pytest.raises(NotebookParseError, match=r"UTF-16.*re-save it as UTF-8"):
        load_notebook(tmp_path)


def test_oversized_manifest_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import strata_engine.model.manifest_file as model

    monkeypatch.setattr(model, "MAX_MANIFEST_BYTES", 1024)  # the real limit is 64 MiB
    nb = notebook(tmp_path, head="# " + "x" * 2048)
    with pytest.raises(NotebookError, match=r"notebook\.toml is .* over the 1 KiB limit"):
        load_notebook(nb)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_manifest_is_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "notebook.toml")
    with pytest.raises(NotebookError, match="is not a regular file"):
        load_notebook(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_saving_a_cell_never_blocks_on_or_replaces_a_fifo(tmp_path: Path) -> None:
    nb = load_notebook(notebook(tmp_path / "nb"))
    fifo = tmp_path / "nb" / "cells" / "a.py"
    fifo.unlink()
    os.mkfifo(fifo)
    with pytest.raises(NotebookError, match=r"cells/a\.py"):
        write_cell_source(nb, nb.cells[0], "x = 2\n")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0.0, 1e309])
def test_session_run_refuses_a_bad_timeout(tmp_path: Path, value: float) -> None:
    with Session(notebook(tmp_path / "nb")) as session, pytest.raises(InvocationError):
        session.run(timeout=value)


# -- the command line -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["", "   "])
def test_new_refuses_an_empty_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "new", name)
    assert code == 2 and "name is empty" in err
    assert list(tmp_path.iterdir()) == []


def test_unusable_cache_index_is_an_invocation_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = notebook(tmp_path)
    (nb / ".strata" / "artifacts" / "index.sqlite").mkdir(parents=True)  # sqlite cannot open it
    code, _, err = cli(capsys, "cache", "gc", nb)
    assert code == 2 and ".strata" in err


def test_sqlite_errors_reach_the_user_as_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import strata_engine.run.session as session

    def read_only(*_args: object, **_kwargs: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(session.Session, "__init__", read_only)
    code, _, err = cli(capsys, "status", notebook(tmp_path))
    assert code == 2
    assert "readonly database" in err and ".strata" in err and "writable" in err


def test_unexpected_errors_are_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import strata_engine.analysis.validation as validation

    def explode(_path: Path) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(validation, "validate_notebook", explode)
    code, _, err = cli(capsys, "validate", notebook(tmp_path))
    assert code == 2 and "ValueError: boom" in err and "STRATA_TRACEBACK=1" in err


# -- very large manifests -------------------------------------------------------------------------
def test_large_manifest_spans_point_at_every_cell() -> None:
    count = 20_000
    blocks = [f'[[cells]]\nid = "c{i}"\nfile = "c{i}.py"\norder = {i}\n' for i in range(count)]
    text = (
        'notebook_id = "big"\n\n'
        + "\n".join(blocks)
        + '\n[[workers]]\nname = "w"\nbackend = "local"\n'
    )
    at = ManifestLocator(text)
    for i in (0, 1, count // 2, count - 1):
        span = at.cell_entry(f"c{i}")
        assert span.line == 4 + 5 * i
        assert at.value(("cells",), i, "order").line == 6 + 5 * i
    assert at.cell_entry("missing", count - 1).line == 3 + 5 * (count - 1)
    assert at.key(("workers",), 0, "name").line == 4 + 5 * count
    assert check_manifest_text(text) == ()


def test_cell_entry_finds_escaped_and_literal_ids() -> None:
    at = ManifestLocator("cells = [\n  { id = \"caf\\u00e9\" },\n  { id = 'raw\\x' },\n]\n")
    assert at.cell_entry("café").line == 2
    assert at.cell_entry("raw\\x").line == 3


def test_duplicate_ids_in_a_large_manifest_are_placed(tmp_path: Path) -> None:
    (tmp_path / "cells").mkdir()
    blocks = [f'[[cells]]\nid = "c{i % 3000}"\nfile = "c.py"\n' for i in range(6000)]
    (tmp_path / "notebook.toml").write_text('notebook_id = "dups"\n' + "\n".join(blocks))
    (tmp_path / "cells" / "c.py").write_text("")
    loaded = load_notebook(tmp_path)
    placed = place_load_diagnostics(loaded, loaded.diagnostics)
    assert len(placed) == 3000
    assert all(d.code == "duplicate_cell_id" and d.span is not None for d in placed)
    assert placed[0].span is not None and placed[0].span.line == 3
