"""The warm worker's life cycle: restarts, interrupts, preloading, closing, output bounds.

Each test owns its executor, because each one kills, interrupts or reconfigures it.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import make_job

from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.backends.local.zygote_server import missing
from strata_engine.store import BlobStore


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "artifacts")


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_dead_worker_is_replaced_by_the_next_run(blobs: BlobStore, tmp_path: Path) -> None:
    with LocalExecutor(blobs) as executor:
        assert executor.run(make_job(tmp_path, "1\n")).status == "ok"
        first = executor.worker_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        result = executor.run(make_job(tmp_path, "'again'\n"))
        assert result.status == "ok", result.error
        assert result.displays == [{"text/plain": "'again'"}]
        assert executor.worker_pid not in (None, first)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def test_no_process_of_a_killed_worker_lives_on(blobs: BlobStore, tmp_path: Path) -> None:
    with LocalExecutor(blobs) as executor:
        executor.run(make_job(tmp_path, "1\n"))
        worker = executor.worker_pid
        assert worker is not None
        children = _children(worker)  # the spare forked for the next cell
        assert children
        handles = [os.pidfd_open(pid) for pid in children]
        os.kill(worker, signal.SIGKILL)
        try:
            for handle in handles:  # readable once that process has ended
                assert select.select([handle], [], [], 30)[0] == [handle]
        finally:
            for handle in handles:
                os.close(handle)


def test_a_cell_that_kills_its_worker_fails_and_the_next_one_runs(
    blobs: BlobStore, tmp_path: Path
) -> None:
    with LocalExecutor(blobs) as executor:
        source = """
            import os, signal, time
            os.kill(os.getppid(), signal.SIGKILL)
            time.sleep(1000)  # ended only by dying with the worker
        """
        result = executor.run(make_job(tmp_path, source))
        assert result.status == "error"
        assert result.error == "the Python worker process died while the cell was running"
        assert executor.run(make_job(tmp_path, "2\n")).displays == [{"text/plain": "2"}]


def test_keyboard_interrupt_kills_the_cell_and_leaves_a_usable_executor(
    blobs: BlobStore, tmp_path: Path
) -> None:
    source = """
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "1000"])
        open("pids", "w").write(f"{os.getpid()} {child.pid}")
        print("ready", flush=True)
        time.sleep(1000)
    """

    def interrupt(_stream: str, _text: str) -> None:
        raise KeyboardInterrupt  # what Ctrl-C does to the engine while it waits

    with LocalExecutor(blobs) as executor:
        with pytest.raises(KeyboardInterrupt):
            executor.run(make_job(tmp_path, source), on_stream=interrupt)
        worker = executor.worker_pid
        for pid in (int(p) for p in (tmp_path / "pids").read_text().split()):
            assert not is_running(pid)
        assert executor.run(make_job(tmp_path, "3\n")).displays == [{"text/plain": "3"}]
        assert executor.worker_pid == worker  # still warm: the interrupt did not cost it


def test_preloading_later_and_after_a_restart(blobs: BlobStore, tmp_path: Path) -> None:
    probe = "import sys\n'xml.dom.minidom' in sys.modules\n"
    with LocalExecutor(blobs, preload=["no_such_module_for_strata"]) as executor:
        assert executor.run(make_job(tmp_path, probe)).displays == [{"text/plain": "False"}]
        executor.preload(["xml.dom.minidom"])
        assert executor.run(make_job(tmp_path, probe)).displays == [{"text/plain": "True"}]
        worker = executor.worker_pid
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        assert executor.run(make_job(tmp_path, probe)).displays == [{"text/plain": "True"}]


def test_a_preload_costs_only_what_is_new() -> None:
    # A first run sends the same list up to three times; only new names drop the spare.
    assert missing(["json", "no_such_module_for_strata", "no_such_module_for_strata"]) == [
        "no_such_module_for_strata"
    ]
    assert missing(["sys", "os.path"]) == []


def test_output_beyond_the_bound_is_cut_and_the_cell_still_finishes(
    blobs: BlobStore, tmp_path: Path
) -> None:
    source = """
        import sys
        for _ in range(5000):
            sys.stdout.write("x" * 999 + "\\n")
        print("done", file=sys.stderr)
    """
    with LocalExecutor(blobs, output_limit=1000) as executor:
        streamed: list[str] = []
        result = executor.run(
            make_job(tmp_path, source),
            on_stream=lambda s, t: streamed.append(t) if s == "stdout" else None,
        )
    assert result.status == "ok"
    assert result.stdout == "x" * 999 + "\n" + "\n[... 5.0 MB truncated]"
    assert "".join(streamed) == result.stdout
    assert result.stderr == "done\n"


def test_close_stops_the_worker(blobs: BlobStore, tmp_path: Path) -> None:
    executor = LocalExecutor(blobs)
    assert executor.worker_pid is None  # started lazily
    executor.run(make_job(tmp_path, "1\n"))
    worker = executor.worker_pid
    assert worker is not None
    executor.close()
    assert not is_running(worker)
    executor.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        executor.run(make_job(tmp_path, "1\n"))


def test_a_process_about_to_end_closes_its_worker_without_waiting_for_its_exit(
    tmp_path: Path,
) -> None:
    # The CLI (prestart.ending_soon) waits for the zygote's "stopped", not for the kernel to
    # free its memory; the zygote still stops everything and exits cleanly. In a process
    # of its own, as the CLI's.
    probe = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from pathlib import Path
from conftest import make_job
from strata_engine.backends.local import prestart
from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.store import BlobStore

with prestart.ending_soon():
    executor = LocalExecutor(BlobStore(Path({str(tmp_path / "blobs")!r})))
    print(executor.run(make_job(Path({str(tmp_path)!r}), "1 + 1\\n")).displays)
    zygote = executor._zygote
    executor.close()
print(zygote.stopped, zygote._process.wait(60), prestart.ending())
"""
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["[{'text/plain': '2'}]", "True 0 False"]


def test_close_from_another_thread_or_a_callback_ends_the_running_cell(
    blobs: BlobStore, tmp_path: Path
) -> None:
    source = "import time\nprint('ready', flush=True)\ntime.sleep(1000)\n"
    with LocalExecutor(blobs) as executor:
        result = executor.run(make_job(tmp_path, source), on_stream=lambda _s, _t: executor.close())
        assert result.error == "cancelled"
        assert executor.worker_pid is None
    executor = LocalExecutor(blobs)
    ready = threading.Event()

    def close_when_ready() -> None:
        ready.wait(60)
        executor.close()

    closer = threading.Thread(target=close_when_ready)
    closer.start()
    result = executor.run(make_job(tmp_path, source), on_stream=lambda _s, _t: ready.set())
    closer.join()
    assert result.error == "cancelled"
    assert executor.worker_pid is None


def test_an_interpreter_that_cannot_start_the_worker_is_an_error_result(
    blobs: BlobStore, tmp_path: Path
) -> None:
    for python in ("/bin/false", "/bin/sh"):  # dies at once; dies saying why
        with LocalExecutor(blobs, python=python, preload=["json"]) as executor:
            result = executor.run(make_job(tmp_path, "1\n"))
        assert result.status == "error"
        assert result.error is not None
        assert result.error.startswith("the Python worker process could not start the cell")
