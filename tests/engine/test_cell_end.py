"""When run() returns, the cell is over: nothing it started still runs, and what its own
process held (files, locks, sockets) is released, also when the zygote reports the cell
contained as soon as it said "done", before the kernel has torn its memory down."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from conftest import make_job

from strata_engine.backends.local.containment import _cgroup2_root
from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.store import BlobStore

_HOLD_LOCK = """
    import fcntl, sys
    sys.held = open("lock", "w")  # not a cell variable: only the process's end releases it
    fcntl.flock(sys.held, fcntl.LOCK_EX)
"""

_TAKE_LOCK = """
    import fcntl
    with open("lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if still held
"""

_SPAWN = """
    import subprocess
    child = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    open("pid", "w").write(str(child.pid))
"""


@pytest.fixture(params=["cgroup", "ancestry"])
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    root = _cgroup2_root()
    if request.param == "cgroup" and (root is None or not os.access(root, os.W_OK)):
        pytest.skip("no writable cgroup v2 here: the ancestry case covers this host")
    if request.param == "ancestry":
        monkeypatch.setenv("STRATA_CELL_CGROUP", "0")
    return str(request.param)


def test_a_lock_the_cell_process_held_is_free_for_the_next_cell(
    mechanism: str, tmp_path: Path
) -> None:
    with LocalExecutor(BlobStore(tmp_path / "artifacts")) as executor:
        for _ in range(5):  # each time, not just when the exit happens to be quick
            held = executor.run(make_job(tmp_path, _HOLD_LOCK))
            assert held.status == "ok", held.error
            taken = executor.run(make_job(tmp_path, _TAKE_LOCK))
            assert taken.status == "ok", taken.error


def test_a_port_the_cell_process_listened_on_is_free_when_run_returns(
    mechanism: str, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = f"""
        import socket, sys
        sys.server = socket.socket()
        sys.server.bind(("127.0.0.1", {port}))
        sys.server.listen()
    """
    with LocalExecutor(BlobStore(tmp_path / "artifacts")) as executor:
        for _ in range(5):
            result = executor.run(make_job(tmp_path, source))
            assert result.status == "ok", result.error
            with socket.socket() as again:  # no SO_REUSEADDR: a listener still there fails
                again.bind(("127.0.0.1", port))


def test_a_process_in_a_new_session_is_gone_when_run_returns(
    mechanism: str, tmp_path: Path
) -> None:
    with LocalExecutor(BlobStore(tmp_path / "artifacts")) as executor:
        result = executor.run(make_job(tmp_path, _SPAWN))
        assert result.status == "ok", result.error
        pid = int((tmp_path / "pid").read_text())
        with pytest.raises(ProcessLookupError):  # killed and reaped, not merely signalled
            os.pidfd_open(pid)
