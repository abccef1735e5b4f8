"""Processes a cell starts in a new session die with the cell: at its end, on timeout, on cancel.

A new session leaves the cell's process group, so killing the group misses it; the zygote
finds it through a cgroup per cell (where writable) or through ancestry (subreapers), and
both are tested (STRATA_CELL_CGROUP=0 forces ancestry alone).
"""

from __future__ import annotations

import os
import select
from pathlib import Path

import pytest
from conftest import make_job

from strata_engine.backends.local.containment import _cgroup2_root
from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.store import BlobStore

_POPEN = """
    import subprocess
    child = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    open("pid", "w").write(str(child.pid))
"""

_DOUBLE_FORK = """
    import os
    first = os.fork()
    if first == 0:  # the classic daemon: new session, fork again, the middle one exits
        os.setsid()
        if os.fork() == 0:
            open("pid.tmp", "w").write(str(os.getpid()))
            os.rename("pid.tmp", "pid")
            os.execvp("sleep", ["sleep", "1000"])
        os._exit(0)
    os.waitpid(first, 0)
    while not os.path.exists("pid"):
        pass
"""

_WAIT = """
    print("ready", flush=True)
    import time
    time.sleep(1000)
"""

SPAWNS = {"popen_new_session": _POPEN, "double_fork": _DOUBLE_FORK}


def _cgroup_writable() -> bool:
    root = _cgroup2_root()
    return root is not None and os.access(root, os.W_OK)


@pytest.fixture(params=["cgroup", "ancestry"])
def mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "cgroup" and not _cgroup_writable():
        pytest.skip("no writable cgroup v2 here: the ancestry case covers this host")
    if request.param == "ancestry":
        monkeypatch.setenv("STRATA_CELL_CGROUP", "0")  # read by the zygote when it starts
    return str(request.param)


def _ended_within(pid: int, seconds: float) -> bool:
    """Wait on the process itself (a pidfd is readable once it has terminated)."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([handle], [], [], seconds)[0])
    finally:
        os.close(handle)


def _spawned_pid(tmp_path: Path) -> int:
    return int((tmp_path / "pid").read_text())


@pytest.mark.parametrize("spawn", sorted(SPAWNS))
def test_a_new_session_dies_when_the_cell_ends(mechanism: str, spawn: str, tmp_path: Path) -> None:
    with LocalExecutor(BlobStore(tmp_path / "artifacts")) as executor:
        result = executor.run(make_job(tmp_path, SPAWNS[spawn]))
        assert result.status == "ok", result.error
        assert _ended_within(_spawned_pid(tmp_path), 10)
        # The worker stays usable (and warm) afterwards.
        worker = executor.worker_pid
        assert executor.run(make_job(tmp_path, "2\n")).displays == [{"text/plain": "2"}]
        assert executor.worker_pid == worker


@pytest.mark.parametrize("spawn", sorted(SPAWNS))
def test_a_new_session_dies_when_the_cell_times_out(
    mechanism: str, spawn: str, tmp_path: Path
) -> None:
    with LocalExecutor(BlobStore(tmp_path / "artifacts")) as executor:
        result = executor.run(make_job(tmp_path, SPAWNS[spawn] + _WAIT, timeout=2.0))
        assert result.error == "cell timed out after 2s"
        assert _ended_within(_spawned_pid(tmp_path), 10)


@pytest.mark.parametrize("spawn", sorted(SPAWNS))
def test_a_new_session_dies_when_the_cell_is_cancelled(
    mechanism: str, spawn: str, tmp_path: Path
) -> None:
    with LocalExecutor(BlobStore(tmp_path / "artifacts")) as executor:

        def cancel_when_ready(_stream: str, text: str) -> None:
            if "ready" in text:
                executor.cancel()

        result = executor.run(make_job(tmp_path, SPAWNS[spawn] + _WAIT), cancel_when_ready)
        assert result.error == "cancelled"
        assert _ended_within(_spawned_pid(tmp_path), 10)


def test_the_cell_runs_in_its_own_cgroup_where_one_is_writable(tmp_path: Path) -> None:
    if not _cgroup_writable():
        pytest.skip("no writable cgroup v2 here")
    source = "open('cgroup', 'w').write(open('/proc/self/cgroup').read())\n"
    with LocalExecutor(BlobStore(tmp_path / "artifacts")) as executor:
        assert executor.run(make_job(tmp_path, source)).status == "ok"
        worker = executor.worker_pid
    line = next(x for x in (tmp_path / "cgroup").read_text().splitlines() if x.startswith("0::"))
    assert f"/strata-{worker}/cell-" in line
    # Stopping the worker removed its cgroups.
    root = _cgroup2_root()
    assert root is not None and not (root / f"strata-{worker}").exists()


def test_the_proc_scan_finds_children_whatever_their_names(tmp_path: Path) -> None:
    """The ancestry fallback for kernels without /proc/PID/task/TID/children parses
    /proc/*/stat, whose command name may hold ')' and spaces."""
    import subprocess

    from strata_engine.backends.local.containment import _children_by_scan

    odd = tmp_path / "a) 1 2 (b"
    odd.symlink_to("/bin/sleep")
    children = [subprocess.Popen([str(odd), "1000"]), subprocess.Popen(["sleep", "1000"])]
    try:
        found = _children_by_scan(os.getpid())
        # Other fixtures may have children of this process running too.
        assert {child.pid for child in children} <= set(found)
        assert os.getppid() not in found and os.getpid() not in found
    finally:
        for child in children:
            child.kill()
            child.wait()
