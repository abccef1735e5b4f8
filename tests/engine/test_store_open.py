"""Opening the store by location: read-only commands create nothing, unavailable and
unwritable stores fail with a message (exit 2), never a traceback."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import NotebookFactory, write_notebook

from strata_engine.cli import main
from strata_engine.run.session import Session, StoreOpenError
from strata_engine.store import ArtifactIndex, StoreError, open_store

CELLS = {"a": "x = 1\n", "b": "y = x + 1\nprint(y)\n"}


def strata(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "strata_engine.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def states_of(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert proc.returncode == 0, proc.stderr
    return {cell["id"]: cell["state"] for cell in json.loads(proc.stdout)["cells"]}


# -- read-only commands create nothing -----------------------------------------------------
def test_status_of_an_absent_store_outside_the_notebook_creates_nothing(
    make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    nb = make_notebook(CELLS, header='[cache]\nstore = "../outside/store"\n')
    assert states_of(strata("status", nb)) == {"a": "never_run", "b": "never_run"}
    for command in ("dag", "validate"):
        assert strata(command, nb).returncode == 0
    assert not (tmp_path / "outside").exists()
    assert not (nb / ".strata").exists()
    assert strata("run", nb).returncode == 0  # run creates it
    assert (tmp_path / "outside" / "store" / "index.sqlite").is_file()
    assert states_of(strata("status", nb)) == {"a": "ready", "b": "ready"}


def test_status_of_a_default_store_creates_no_strata_directory(
    make_notebook: NotebookFactory,
) -> None:
    nb = make_notebook(CELLS)
    assert states_of(strata("status", nb)) == {"a": "never_run", "b": "never_run"}
    assert not (nb / ".strata").exists()


def test_readonly_index_open_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "index.sqlite"
    with ArtifactIndex(path, readonly=True) as index:
        assert index.get("0" * 32) is None and index.last_runs("nb") == {}
        assert not index.found
    assert not (tmp_path / "absent").exists()


def test_one_session_looks_read_only_then_runs(make_notebook: NotebookFactory) -> None:
    """The editor's session: states before anything exists, a run, states again."""
    nb = make_notebook(CELLS)
    with Session(nb) as session:
        assert {s.state for s in session.states().values()} == {"never_run"}
        assert not (nb / ".strata").exists()
        assert session.run().success
        assert {s.state for s in session.states().values()} == {"ready"}
        assert (nb / ".strata" / ".gitignore").read_text() == "*\n"


def test_states_see_a_store_another_process_created(make_notebook: NotebookFactory) -> None:
    nb = make_notebook(CELLS)
    with Session(nb) as session:
        assert {s.state for s in session.states().values()} == {"never_run"}
        assert strata("run", nb).returncode == 0
        session.forget_lookups()
        assert {s.state for s in session.states().values()} == {"ready"}


# -- locations -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("uri", "package", "extra"),
    [
        ("gs://b/x", "gcsfs", "gcs"),
        ("gcs://b", "gcsfs", "gcs"),
        ("az://c/x", "adlfs", "azure"),
        ("azure://c", "adlfs", "azure"),
    ],
)
def test_a_shared_store_without_its_driver_names_the_extra(
    uri: str, package: str, extra: str, tmp_path: Path
) -> None:
    """(gcsfs and adlfs are not installed in the test environment; s3fs is: see
    test_shared_store.py.)"""
    for writable in (True, False):
        with pytest.raises(StoreError) as raised:
            open_store(uri, writable=writable, cache_dir=tmp_path / ".strata")
        assert f"needs the {package} package" in str(raised.value)
        assert f"pip install 'strata-vscode-server[{extra}]'" in str(raised.value)
    assert not (tmp_path / ".strata").exists()


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(StoreError, match="unknown scheme ftp://"):
        open_store("ftp://host/x", writable=False)


def test_a_shared_store_fails_the_run_before_anything_executes(
    make_notebook: NotebookFactory,
) -> None:
    nb = make_notebook({"a": "open('ran', 'w').close()\n"}, header='[cache]\nstore = "gs://t/s"\n')
    proc = strata("run", nb)
    assert proc.returncode == 2
    assert "needs the gcsfs package" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (nb / "ran").exists()


def test_a_file_uri_names_a_local_directory(make_notebook: NotebookFactory, tmp_path: Path) -> None:
    store = tmp_path / "shared dir"
    nb = make_notebook(CELLS, header=f'[cache]\nstore = "{store.as_uri()}"\n')
    assert strata("run", nb).returncode == 0
    assert (store / "index.sqlite").is_file() and (store / "blobs").is_dir()
    assert not (nb / ".strata").exists()
    assert states_of(strata("status", nb)) == {"a": "ready", "b": "ready"}


def test_a_file_uri_with_a_host_is_refused() -> None:
    with pytest.raises(StoreError, match="file:///absolute/path"):
        open_store("file://server/share", writable=True)


# -- a store nobody may write --------------------------------------------------------------
@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory an unprivileged user can reach (pytest's tmp_path is private to us)."""
    directory = Path(tempfile.mkdtemp(prefix="strata-ro-"))
    directory.chmod(0o755)
    yield directory
    _chmod_tree(directory, writable=True)
    shutil.rmtree(directory)


def _chmod_tree(root: Path, *, writable: bool) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~bits)


def unprivileged(call: Callable[[], int]) -> tuple[int, str, str]:
    """Run `call` in a forked child without write access to files it does not own (as
    `nobody` when we are root, since root ignores permissions). Returns exit code and output."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                code = call()
            os.write(write_end, json.dumps([out.getvalue(), err.getvalue()]).encode())
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        payload = reader.read()
    _, status = os.waitpid(pid, 0)
    out, err = json.loads(payload) if payload else ("", "")
    return os.waitstatus_to_exitcode(status), out, err


def test_a_read_only_store_reads_but_refuses_to_run(shared_tmp: Path) -> None:
    nb = write_notebook(shared_tmp / "nb", CELLS)
    assert strata("run", nb).returncode == 0
    (nb / "cells" / "b.py").write_text("y = x + 2\n")
    _chmod_tree(nb / ".strata", writable=False)
    code, out, err = unprivileged(lambda: main(["status", str(nb)]))
    assert code == 0, err
    states = {c["id"]: c["state"] for c in json.loads(out)["cells"]}
    assert states == {"a": "ready", "b": "stale"}
    code, out, err = unprivileged(lambda: main(["run", str(nb)]))
    assert code == 2, out + err
    store = nb / ".strata" / "artifacts"
    assert f"cannot write the artifact store {store}" in err
    assert "chmod -R u+w" in err and "[cache] store" in err


def test_an_unwritable_store_raises_a_notebook_error(shared_tmp: Path) -> None:
    nb = write_notebook(shared_tmp / "nb", CELLS)
    assert strata("run", nb).returncode == 0
    _chmod_tree(nb / ".strata", writable=False)

    def run() -> int:
        with Session(nb) as session:
            try:
                session.run()
            except StoreOpenError:
                return 2
        return 0

    assert unprivileged(run)[0] == 2
