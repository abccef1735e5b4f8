"""The zygote: a warm process that forks one fresh child per cell.

Started by the engine (zygote_client.py) as
`python -m strata_engine.backends.local.zygote_server --fd N`, where N is its end of a Unix
socket pair (protocol.py). It imports the harness, the store codecs and whatever
the engine asks it to preload, then waits. Per "run" message it receives three pipe write ends
(stdout, stderr, result), hands the job to a child, and reports {"op": "started", pid}. The
child is its own process group (so the engine can kill the cell's whole tree with one killpg),
points fds 1 and 2 at the pipes (output of C code and subprocesses is captured too), runs the
harness and _exits. The zygote never runs cell code itself, so it stays clean.

The child is usually a spare: forked while the previous cell ran and waiting on a private
socket for its job, so a cell does not wait for a fork of the whole warm heap. While it
waits, it runs the harness and the codecs once on a tiny value (prewarm.py), so the pages the
cell would copy on first touch are copied before the job arrives. A spare forked before a
preload is dropped (it would lack the new modules).

It is single-threaded (fork safety) and a child subreaper, as is each cell process: what a
cell started stays in the cell's tree while it runs and becomes the zygote's child once it
ended, also after `setsid` (containment.py; plus a cgroup per cell where one is writable). It
reports {"op": "exited", pid, status} only once the cell's process group, its cgroup and the
leftovers are gone (all are killed when the cell ends), which means that when the engine sees
the exit, no process of the cell is still running. A cell process that returned its result
closes all its descriptors and says "done" on its spare socket; if it then stands alone (no
child of any thread, no leftover, alone in its cgroup), the zygote kills it and reports the
exit at once (status None), without waiting for the kernel to tear its memory down.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import gc
import importlib
import io
import os
import select
import selectors
import signal
import socket
import sys
import tempfile
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from strata_engine.backends.local import harness
from strata_engine.backends.local.containment import CellCgroups, has_children, kill_leftovers
from strata_engine.backends.local.prewarm import prepare as prewarm_frames
from strata_engine.backends.local.prewarm import prewarm
from strata_engine.backends.local.protocol import Message, recv_message, send_message

_real_exit = os._exit  # the harness wraps os._exit in the child; the final exit is ours

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_BASE_PRELOAD = ("strata_engine.store", "cloudpickle")
# Storing a DataFrame or an array needs pyarrow: warm it with the library that produces them.
_COMPANIONS = {"pandas": ("pyarrow",), "numpy": ("pyarrow",)}
_EXIT_INTERNAL_ERROR = 70
_DRAIN_POLL = 0.02
_MAX_FD = 1 << 20  # closerange's bound: Linux closes a range with one close_range() call


@dataclass
class _Spare:
    """A child forked ahead of time, waiting on `sock` for its job."""

    pid: int
    sock: socket.socket


@dataclass
class _Cell:
    job: int
    status: int | None = None  # raw wait status once the cell's own process is reaped
    done: socket.socket | None = None  # the spare's socket: the cell says "done" on it
    reported: bool = False  # "exited" already sent (contained at "done"): not again


def _prctl(option: int, value: int) -> None:
    """Best effort: the process controls used here exist on Linux only."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_empty(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return True  # a member we cannot signal is not ours to wait for
    return False


def _readable(sock: socket.socket) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def missing(modules: Iterable[str]) -> list[str]:
    """`modules` and their companions that this process has not imported yet."""
    wanted = (m for name in modules for m in (name, *_COMPANIONS.get(name.partition(".")[0], ())))
    return [module for module in dict.fromkeys(wanted) if module not in sys.modules]


def preload(modules: Iterable[str]) -> bool:
    """Import modules so every future child starts with them; failures are only logged.
    True when pandas arrived: the DataFrame codec then wants its warm-up (`warm_up`)."""
    fresh_pandas = "pandas" not in sys.modules
    for module in missing(modules):
        try:
            importlib.import_module(module)
        except (Exception, SystemExit) as exc:
            print(f"strata zygote: cannot preload {module}: {exc!r}", file=sys.stderr)
    sys.stderr.flush()
    _freeze()
    return fresh_pandas and "pandas" in sys.modules


def warm_up() -> None:
    """Run the DataFrame codec once, so that its lazy imports and first-use caches are paid
    here rather than in every cell that loads or publishes a table."""
    _warm_arrow_codec()
    prewarm_frames()
    _freeze()


def _freeze() -> None:
    # Objects that exist now never change: keep the collector from touching (and so
    # copying-on-write) their pages in every child.
    gc.freeze()


def _warm_arrow_codec() -> None:
    """Store and load one tiny DataFrame, so the codec's lazy imports and first-use caches
    are paid once here rather than in every cell that publishes a table."""
    try:
        import pandas

        from strata_engine.store import BlobStore, load_value, store_value

        with tempfile.TemporaryDirectory(prefix="strata-warmup-") as scratch:
            blobs = BlobStore(Path(scratch))
            frame = pandas.DataFrame({"a": [1], "b": ["x"]})
            load_value(blobs, store_value(blobs, "warmup", frame))
            load_value(blobs, store_value(blobs, "warmup", frame["a"]))
    except Exception as exc:
        print(f"strata zygote: codec warm-up failed: {exc!r}", file=sys.stderr)


class ForkServer:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._cells: dict[int, _Cell] = {}
        self._spare: _Spare | None = None
        self._cgroups = CellCgroups.create(os.getpid())
        self._warm_up_due = False
        """pandas arrived: warm the codec up once nothing else waits (`_warm_up`)."""

    def serve(self) -> None:
        """Handle messages and child exits until the engine hangs up or says shutdown."""
        # SIGCHLD only wakes the loop (through the wakeup fd); reaping happens in the loop.
        signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
        signal.set_wakeup_fd(self._wake_w)
        self._selector.register(self._sock, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while True:
                events = self._selector.select(0 if self._warm_up_due else self._wait_time())
                if not events and self._warm_up_due:
                    self._warm_up()
                for key, _events in events:
                    if key.fileobj is self._sock and not self._handle_message():
                        return
                    if key.fileobj == self._wake_r:
                        self._drain_wakeups()
                    elif isinstance(key.data, int):
                        self._on_done(key.data)
                self._reap()
        finally:
            self._drop_spare()
            for pgid in self._cells:
                _kill_group(pgid)
            if self._cgroups is not None:
                self._cgroups.close()
            kill_leftovers(os.getpid(), ())

    def _wait_time(self) -> float | None:
        if any(cell.status is not None for cell in self._cells.values()):
            # Members of an ended cell's group may still be exiting (not all of them are our
            # children, so no SIGCHLD is promised): poll until the group is empty.
            return _DRAIN_POLL
        return None

    def _handle_message(self) -> bool:
        received = recv_message(self._sock)
        if received is None:
            return False  # the engine is gone
        message, fds = received
        op = message.get("op")
        if op == "run" and len(fds) == 3:
            self._start_cell(message["job"], fds)
            return True
        for fd in fds:
            os.close(fd)
        # A first run sends the same list up to three times (early imports, the executor
        # that takes the zygote, the analysis): only what is new costs a warm-up and a spare.
        if op == "preload" and (modules := missing(message["modules"])):
            self._drop_spare()  # it would lack the new modules
            self._warm_up_due |= preload(modules)
            # The first cell's process too is forked ahead: forking a warm heap at the job
            # cost a first run's first cell ~25 ms. The first job usually follows at once.
            self._make_spare()
        return op != "shutdown"

    def _warm_up(self) -> None:
        """The codec's warm-up (~45 ms), done only when no message waits: on a first run the
        first cell's job usually arrives while pandas is still importing, and starts before
        it (paying only the first uses it makes). The spare is forked again afterwards, so
        the next cells inherit the warmed codec."""
        self._warm_up_due = False
        warm_up()
        if self._spare is not None:
            self._drop_spare()
            self._make_spare()

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _start_cell(self, job: Message, fds: Sequence[int]) -> None:
        spare = self._hand_to_spare(job, fds)
        pid = spare.pid if spare is not None else self._fork(job, fds, None)
        for fd in fds:
            os.close(fd)  # before forking the next spare: it must not hold this cell's pipes
        self._cells[pid] = _Cell(job["id"], done=spare.sock if spare is not None else None)
        if spare is not None:
            self._selector.register(spare.sock, selectors.EVENT_READ, pid)
        send_message(self._sock, {"op": "started", "job": job["id"], "pid": pid})
        # Fork the next cell's process now, while this one runs: a fork costs milliseconds per
        # hundred MB of warm heap, and the next job then does not wait for it. (Measured: at
        # once beats waiting for this cell to end, even for cells that take no time at all.)
        self._make_spare()

    def _fork(self, job: Message | None, fds: Sequence[int], spare: socket.socket | None) -> int:
        sys.stdout.flush()
        sys.stderr.flush()  # or the child would flush our buffered text into its own stderr
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._child(zygote_pid, job, fds, spare)
        # Also done by the child; doing it here too means the group exists before the engine
        # learns the pid and might kill it. OSError: the child already exited.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        return pid

    def _make_spare(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Registered before the fork, so the spare closes our end: else it would never see
        # the end of file that tells it it is no longer needed.
        self._spare = _Spare(0, ours)
        self._spare.pid = self._fork(None, (), theirs)
        theirs.close()

    def _hand_to_spare(self, job: Message, fds: Sequence[int]) -> _Spare | None:
        """The spare now running `job`; its socket stays open for the cell's "done"."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        try:
            send_message(spare.sock, job, fds)
        except OSError:
            spare.sock.close()
            return None  # it died (it is reaped as a stranger): fork a fresh one
        return spare

    def _drop_spare(self) -> None:
        """The spare sees its socket close and exits (it was forked before a preload)."""
        if self._spare is not None:
            self._spare.sock.close()
            self._spare = None

    def _child(
        self,
        zygote_pid: int,
        job: Message | None,
        fds: Sequence[int],
        spare: socket.socket | None,
    ) -> NoReturn:
        """The forked process: a cell now, or (spare) once a job arrives on `spare`."""
        code = _EXIT_INTERNAL_ERROR
        try:
            self._leave_zygote(zygote_pid)
            if spare is not None:
                harness.reseed_numpy()  # job-independent: done before the job arrives
                prewarm(lambda: _readable(spare))
                received = recv_message(spare)
                # None: dropped unused (a preload made it stale, or the zygote stopped)
                job, fds = received if received is not None else (None, ())
            if job is not None:
                ours = _identity(spare) if spare is not None else None
                _run_cell(job, fds)
                if spare is not None:
                    _say_done(spare, ours)
            code = 0
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            _real_exit(code)

    def _leave_zygote(self, zygote_pid: int) -> None:
        """In the child: drop what belongs to the zygote, and become a process group."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.close(self._selector.fileno())  # not unregister(): the epoll set is shared
        os.close(self._wake_r)
        os.close(self._wake_w)
        # Holding the control socket would hide the zygote's death from the engine.
        self._sock.close()
        if self._spare is not None:
            self._spare.sock.close()
        for cell in self._cells.values():
            if cell.done is not None:
                cell.done.close()
        os.setpgid(0, 0)
        if self._cgroups is not None:
            self._cgroups.join()
        # What the cell starts stays in its tree even after setsid and a parent's exit.
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the zygote, not live on
        # zygote_pid was read before the fork: reading it here could already give the pid
        # of whoever adopted us, and a zygote that died before prctl would go unnoticed.
        if os.getppid() != zygote_pid:
            _real_exit(_EXIT_INTERNAL_ERROR)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            cell = self._cells.get(pid)
            if cell is not None and cell.reported:
                self._drop_cell(pid)  # contained when it said done: nothing left to do
                continue
            if cell is not None and cell.status is None:
                cell.status = status
                self._kill_cell(pid)  # whatever the cell left running ends with it
                continue
            if self._spare is not None and pid == self._spare.pid:
                self._drop_spare()  # died unused (OOM killer?); the next cell forks afresh
            # any other pid: an orphaned descendant of a cell (we are its subreaper), or a
            # spare dropped earlier (whose empty cgroup goes now)
            if self._cgroups is not None:
                self._cgroups.empty(pid)
        ended = [pid for pid, cell in self._cells.items() if cell.status is not None]
        if not ended or self._leftovers():
            return
        for pid in ended:
            if _group_empty(pid) and (self._cgroups is None or self._cgroups.empty(pid)):
                cell = self._drop_cell(pid)
                message = {"op": "exited", "job": cell.job, "pid": pid, "status": cell.status}
                send_message(self._sock, message)

    def _on_done(self, pid: int) -> None:
        """The cell's process said "done": its result is sent and its descriptors are closed,
        and only its exit is left. Killed now, it runs no more code; if it started nothing
        that is still there, the cell is contained, and the engine hears so at once rather
        than after the kernel has torn down its memory (3-5 ms). Else reaping reports it."""
        cell = self._cells.get(pid)
        sock = cell.done if cell is not None else None
        if cell is None or sock is None:
            return
        try:
            received = recv_message(sock)
        except (OSError, ValueError):
            received = None
        self._forget_done(cell)  # one message at most
        if received is None:
            return  # closed by the cell's code (os.closerange...): reaping reports it
        message, fds = received
        for fd in fds:
            os.close(fd)
        if message.get("op") != "done" or cell.status is not None or cell.reported:
            return
        _kill_group(pid)  # it and its threads: from here on nothing of the cell runs
        # As a subreaper it holds every process it started that is still there, setsid or
        # not, as a child (or, once it has exited, we do); its cgroup holds them too.
        if (
            has_children(pid)
            or self._leftovers()
            or (self._cgroups is not None and not self._cgroups.alone(pid))
        ):
            self._kill_cell(pid)
            return  # reaping reports the cell once all of it is gone
        cell.reported = True
        send_message(self._sock, {"op": "exited", "job": cell.job, "pid": pid, "status": None})

    def _forget_done(self, cell: _Cell) -> None:
        if cell.done is not None:
            self._selector.unregister(cell.done)
            cell.done.close()
            cell.done = None

    def _drop_cell(self, pid: int) -> _Cell:
        cell = self._cells.pop(pid)
        self._forget_done(cell)
        if cell.reported and self._cgroups is not None:
            self._cgroups.empty(pid)  # removes its directory
        return cell

    def _kill_cell(self, pid: int) -> None:
        """Its group and cgroup; what left both is found by _reap's one scan for leftovers
        (a scan reads all of /proc on kernels without /proc/PID/task/TID/children)."""
        _kill_group(pid)
        if self._cgroups is not None:
            self._cgroups.kill(pid)

    def _leftovers(self) -> bool:
        """Kill the processes left over from ended cells; True while any remains."""
        keep = {pid for pid, cell in self._cells.items() if cell.status is None}
        if self._spare is not None:
            keep.add(self._spare.pid)
        return kill_leftovers(os.getpid(), keep)


def _identity(sock: socket.socket) -> tuple[int, int]:
    info = os.fstat(sock.fileno())
    return info.st_dev, info.st_ino


def _say_done(sock: socket.socket, ours: tuple[int, int] | None) -> None:
    """In the cell's process, its result sent: close every descriptor (the pipes, so the
    engine sees their end now; files, sockets and locks the cell left open, so the next
    cell finds them released), then tell the zygote, which may report the cell contained
    before this process's exit has torn its memory down."""
    try:
        if _identity(sock) != ours:
            return  # the cell closed it, and its number now names something else
    except OSError:
        return
    keep = sock.fileno()
    os.closerange(0, keep)
    os.closerange(keep + 1, _MAX_FD)
    with contextlib.suppress(OSError):
        send_message(sock, {"op": "done"})


def _run_cell(job: Message, fds: Sequence[int]) -> None:
    stdout_w, stderr_w, result_w = fds
    _redirect_std_streams(stdout_w, stderr_w)
    # The cell's kind names the module that runs its source (the engine checked that it
    # has one); Python's is imported ahead, in the zygote.
    runner = importlib.import_module(str(job.get("harness", harness.__name__)))
    runner.run_job(job, harness.ResultChannel(result_w))


def _redirect_std_streams(stdout_w: int, stderr_w: int) -> None:
    os.dup2(stdout_w, 1)
    os.dup2(stderr_w, 2)
    os.close(stdout_w)
    os.close(stderr_w)
    # Unbuffered (like `python -u`): what a cell printed just before a crash is in the pipe.
    for fd, name in ((1, "stdout"), (2, "stderr")):
        raw = io.FileIO(fd, "wb", closefd=False)
        stream = io.TextIOWrapper(
            raw, encoding="utf-8", errors="backslashreplace", write_through=True
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    faulthandler.enable(sys.stderr)  # a segfault also shows the Python line that caused it


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    sock = socket.socket(fileno=int(args[args.index("--fd") + 1]))
    # Chosen before anything can import pyplot: cells run headless.
    os.environ["MPLBACKEND"] = "Agg"
    sys.argv = [""]
    if sys.path and sys.path[0] == os.getcwd():
        del sys.path[0]  # `-m` put the engine's cwd first; each cell adds its notebook dir
    # Its own session already shields it from a terminal's Ctrl-C; this covers the rest.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    preload(_BASE_PRELOAD)
    try:
        ForkServer(sock).serve()
        # Every process it started is killed: an engine about to end need not wait for
        # this one's exit, which is the kernel freeing its memory.
        send_message(sock, {"op": "stopped"})
    except (ConnectionError, BrokenPipeError):
        pass  # the engine went away mid-message
    finally:
        sock.close()
    # Its cells are stopped and nothing is left to flush but stderr (its log): tearing the
    # interpreter down (pandas, pyarrow...) only kept the engine waiting ~50 ms per run.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
