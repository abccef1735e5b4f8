"""One cell run as seen from the engine: pipes, the event loop, the clock, cancellation.

The engine creates the three pipes of a run (stdout, stderr, result) and hands their write
ends to the zygote with the job, so it owns the read ends from the start and nothing else
in the engine can hold a write end open. It then watches the pipes and the control socket
with one selector until the zygote reports the cell's process group gone and the pipes hit
end of file. Killing is always by process group (SIGKILL), which takes the cell's
subprocesses with it.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from strata_engine.backends.jobs import DisplayCallback, IterationCallback, StreamCallback
from strata_engine.backends.local.capture import BoundedText
from strata_engine.backends.local.protocol import Message, RecordReader
from strata_engine.backends.local.zygote_client import ZygoteClient, ZygoteLost

_DRAIN_SECONDS = 1.0
"""How long to keep reading after the cell's group is gone: only a process that escaped the
group (setsid) can still hold a pipe open, and it must not hold the run open with it."""

_SETTLE_SECONDS = 5.0
"""How long an interrupted run waits for the zygote to confirm the cell's group is gone."""


@dataclass
class ProcessReport:
    """Everything observed about one run; outcome.py turns it into a CellResult."""

    started: bool = False
    exited: bool = False
    wait_status: int | None = None
    zygote_lost: bool = False
    start_timed_out: bool = False
    timed_out: bool = False
    cancelled: bool = False
    result: Message | None = None
    exit_called: int | None = None
    displays: list[dict[str, str]] = field(default_factory=list)
    iterations: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


class CellProcess:
    def __init__(
        self,
        zygote: ZygoteClient,
        payload: Message,
        *,
        timeout: float,
        start_timeout: float,
        output_limit: int,
        on_stream: StreamCallback | None,
        on_display: DisplayCallback | None,
        on_iteration: IterationCallback | None = None,
    ) -> None:
        self._zygote = zygote
        self._on_iteration = on_iteration
        self._payload = payload
        self._job_id: int = payload["id"]
        self._timeout = timeout
        self._start_timeout = start_timeout
        self._on_stream = on_stream
        self._on_display = on_display
        self._captures = {"stdout": BoundedText(output_limit), "stderr": BoundedText(output_limit)}
        self._records = RecordReader()
        self._lock = threading.Lock()  # pid/started/exited against cancel() from other threads
        self._pid: int | None = None
        self._report = ProcessReport()
        self._clock_start = 0.0
        self._started_at = 0.0
        self._end_time: float | None = None

    # -- called from other threads -------------------------------------------------------------
    def request_cancel(self) -> None:
        self._cancel(stop_unstarted=True)

    def _cancel(self, *, stop_unstarted: bool) -> None:
        with self._lock:
            self._report.cancelled = True
            if self._pid is not None and not self._report.exited:
                _kill_group(self._pid)
            elif not self._report.started and stop_unstarted:
                # Still waiting on the zygote (starting up, preloading): it is not warm yet,
                # so abandoning it costs little and makes cancel immediate.
                self._zygote.kill()

    # -- the run -----------------------------------------------------------------------------------
    def execute(self) -> ProcessReport:
        """Run the job to completion. Raises ZygoteLost if the job could not even be sent."""
        pipes = {name: os.pipe() for name in ("stdout", "stderr", "result")}
        try:
            try:
                self._zygote.send(
                    {"op": "run", "job": self._payload}, [w for _r, w in pipes.values()]
                )
            finally:
                for _read, write in pipes.values():
                    os.close(write)  # the child's copies are the only writers left
            self._clock_start = time.monotonic()
            self._loop({read: name for name, (read, _write) in pipes.items()})
        except ZygoteLost:
            raise  # nothing started: the executor replaces the zygote and tries again
        except BaseException:
            self._abandon()  # KeyboardInterrupt, or a callback raised
            raise
        finally:
            for read, _write in pipes.values():
                os.close(read)
        for name, capture in self._captures.items():
            self._emit(name, capture.finish())
        self._report.stdout = self._captures["stdout"].text()
        self._report.stderr = self._captures["stderr"].text()
        return self._report

    def _loop(self, pipes: dict[int, str]) -> None:
        selector = selectors.DefaultSelector()
        try:
            for fd, name in pipes.items():
                selector.register(fd, selectors.EVENT_READ, name)
            selector.register(self._zygote.fileno(), selectors.EVENT_READ, "control")
            open_pipes = set(pipes)
            while not self._finished(open_pipes):
                for key, _events in selector.select(self._wait_time()):
                    if key.data == "control":
                        if not self._on_control():
                            selector.unregister(key.fd)
                    elif not self._on_pipe(key.fd, key.data):
                        selector.unregister(key.fd)
                        open_pipes.discard(key.fd)
                self._check_clock()
        finally:
            selector.close()

    def _abandon(self) -> None:
        """Kill the cell and wait (briefly) for the zygote to confirm its group is gone, so no
        process of it outlives run() and the zygote stays usable for the next cell."""
        self._on_stream = self._on_display = None
        self._on_iteration = None
        # A cell not started yet is killed as soon as the zygote reports it (cancelled).
        self._cancel(stop_unstarted=False)
        give_up = time.monotonic() + _SETTLE_SECONDS
        while not self._report.exited and not self._zygote.lost:
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                self._zygote.kill()  # unresponsive: the executor starts a new one
                break
            readable, _w, _x = select.select([self._zygote.fileno()], [], [], remaining)
            if readable:
                self._on_control()

    def _finished(self, open_pipes: set[int]) -> bool:
        if self._end_time is None:
            return False
        return not open_pipes or time.monotonic() >= self._end_time + _DRAIN_SECONDS

    def _wait_time(self) -> float | None:
        deadline = self._deadline()
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def _deadline(self) -> float | None:
        if self._end_time is not None:
            return self._end_time + _DRAIN_SECONDS
        if not self._report.started:
            return self._clock_start + self._start_timeout
        if self._report.timed_out or self._report.cancelled:
            return None  # killed; waiting for the zygote to report the group gone
        return self._started_at + self._timeout

    def _check_clock(self) -> None:
        if self._end_time is not None:
            return
        now = time.monotonic()
        if not self._report.started:
            if now >= self._clock_start + self._start_timeout:
                self._report.start_timed_out = True
                self._zygote.kill()  # hung (a preload that never returns): start over next time
                self._lose_zygote()
            return
        if not self._report.timed_out and now >= self._started_at + self._timeout:
            with self._lock:
                self._report.timed_out = True
                if not self._report.exited and self._pid is not None:
                    _kill_group(self._pid)

    # -- events ------------------------------------------------------------------------------------
    def _on_control(self) -> bool:
        """Handle one control message; False once the zygote is gone."""
        message = self._zygote.recv()
        if message is None:
            self._lose_zygote()
            return False
        op, pid = message.get("op"), message.get("pid")
        if message.get("job") != self._job_id:
            if op == "started" and isinstance(pid, int):
                _kill_group(pid)  # a job abandoned earlier has started after all: end it
            return True
        if op == "started" and isinstance(pid, int):
            self._mark_started(pid)
        elif op == "exited":
            with self._lock:
                self._report.exited = True
                self._report.wait_status = message.get("status")
            self._end_time = time.monotonic()
        return True

    def _mark_started(self, pid: int) -> None:
        """The cell's process exists. Said by the zygote, and by the cell itself before it
        runs any of the cell's code: if the zygote dies in between, the cell's own word is
        what tells a job that never ran (safe to retry) from one that did."""
        with self._lock:
            if self._report.started:
                return
            self._pid = pid
            self._report.started = True
            self._started_at = time.monotonic()
            if self._report.cancelled or self._report.zygote_lost:
                _kill_group(pid)

    def _lose_zygote(self) -> None:
        with self._lock:
            self._report.zygote_lost = True
            if self._pid is not None and not self._report.exited:
                # The cell itself dies with the zygote (PDEATHSIG); its subprocesses would not.
                _kill_group(self._pid)
        if self._end_time is None:
            self._end_time = time.monotonic()

    def _on_pipe(self, fd: int, name: str) -> bool:
        """Read what is available; False at end of file."""
        data = os.read(fd, 1 << 16)
        if name == "result":
            for record in self._records.feed(data):
                self._on_record(record)
        else:
            self._emit(name, self._captures[name].feed(data))
        return bool(data)

    def _on_record(self, record: Message) -> None:
        if "display" in record:
            bundle: dict[str, str] = record["display"]
            self._report.displays.append(bundle)
            if self._on_display is not None:
                self._on_display(bundle)
        elif "iteration" in record:
            iteration: dict[str, Any] = record["iteration"]
            self._report.iterations.append(iteration)
            if self._on_iteration is not None:
                self._on_iteration(iteration)
        elif "result" in record:
            self._report.result = record["result"]
        elif "exit" in record:
            self._report.exit_called = _as_int(record["exit"])
        elif "started" in record and isinstance(record["started"], int):
            self._mark_started(record["started"])

    def _emit(self, stream: str, text: str) -> None:
        if text and self._on_stream is not None:
            self._on_stream(stream, text)


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
