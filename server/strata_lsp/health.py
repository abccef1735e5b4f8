"""`strata/workerHealth`: the health of each open notebook's `[[workers]]`, asked by the
engine (`backends.health.probe_all`) in one background thread, never on the event loop.

A notebook is watched while it is open and declares a worker that is not on this machine:
probed at once, then every `POLL_S` seconds, and again as soon as its `[[workers]]` change or
the client asks (`strata/checkWorkerHealth`). Changes of the workers while a probe runs
coalesce into one more probe, so typing a URL never queues one probe per keystroke.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strata_engine.backends.base import WorkerConfig
from strata_engine.backends.health import PROBE_TIMEOUT, probe_all, remote

log = logging.getLogger(__name__)
POLL_S = 15.0
SETTLE_S = 1.0
"""After the workers of a watched notebook change, wait this long for the edit to settle."""
METHOD = "strata/workerHealth"

Post = Callable[[Callable[[], None]], None]
Notify = Callable[[str, dict[str, Any]], None]
Probe = Callable[[Sequence[WorkerConfig]], list[Any]]


@dataclass(eq=False)
class _Watched:
    workers: tuple[WorkerConfig, ...]
    due: float
    """time.monotonic() of the next probe."""
    generation: int = 0
    """Bumped when the workers change: a probe of an older generation is not sent."""
    asked: bool = False
    """The client asked: send the answer even if nothing changed."""
    sent: list[dict[str, Any]] | None = None


class HealthMonitor:
    """`watch`, `unwatch` and `check` are called on the event loop; probes run in one daemon
    thread and their notifications come back through `post`."""

    def __init__(
        self,
        post: Post,
        notify: Notify,
        *,
        interval: float = POLL_S,
        settle: float = SETTLE_S,
        probe: Probe | None = None,
    ) -> None:
        self._post, self._notify = post, notify
        self.interval = interval
        """Seconds between probes of a watched notebook; 0: only on open, change and ask."""
        self._settle = settle
        self._probe: Probe = probe or (lambda workers: probe_all(workers, timeout=PROBE_TIMEOUT))
        self._watched: dict[Path, _Watched] = {}
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def watch(self, directory: Path, workers: Sequence[WorkerConfig]) -> None:
        """After each analysis: start, keep, re-probe (workers changed) or stop watching."""
        declared = tuple(workers)
        with self._wake:
            watched = self._watched.get(directory)
            if not remote(declared):
                if watched is not None:
                    del self._watched[directory]
                    if watched.sent:  # the client hides what it showed
                        self._send(directory, [])
                return
            if watched is not None and watched.workers == declared:
                return
            due = 0.0
            if watched is None:
                watched = self._watched[directory] = _Watched(declared, due)
            else:
                due = time.monotonic() + self._settle
            watched.workers, watched.due = declared, due
            watched.generation += 1
            self._start()
            self._wake.notify()

    def unwatch(self, directory: Path) -> None:
        with self._wake:
            self._watched.pop(directory, None)

    def check(self, directory: Path) -> bool:
        """Probe now and always answer; False when the notebook has no remote worker."""
        with self._wake:
            watched = self._watched.get(directory)
            if watched is None:
                return False
            watched.due, watched.asked = 0.0, True
            self._start()
            self._wake.notify()
            return True

    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    # -- the probing thread ---------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None and not self._stopped:
            self._thread = threading.Thread(target=self._loop, name="strata-health", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._wake:
                job = self._next_due()
                while job is None and not self._stopped:
                    self._wake.wait(self._wait_s())
                    job = self._next_due()
                if self._stopped:
                    return
            assert job is not None
            directory, watched, workers, generation = job
            try:
                results = [health.to_json() for health in self._probe(workers)]
            except Exception:  # probe_all answers for every worker; this is a bug, not a state
                log.exception("worker health probe of %s failed", directory)
                continue
            with self._wake:
                current = self._watched.get(directory) is watched
                if current and watched.generation == generation:
                    changed = results != watched.sent
                    if changed or watched.asked:
                        watched.sent, watched.asked = results, False
                        self._send(directory, results)

    def _next_due(self) -> tuple[Path, _Watched, tuple[WorkerConfig, ...], int] | None:
        now = time.monotonic()
        for directory, watched in self._watched.items():
            if watched.due <= now:
                watched.due = now + self.interval if self.interval > 0 else float("inf")
                return directory, watched, watched.workers, watched.generation
        return None

    def _wait_s(self) -> float | None:
        due = min((w.due for w in self._watched.values()), default=float("inf"))
        return None if due == float("inf") else max(0.0, due - time.monotonic())

    def _send(self, directory: Path, workers: list[dict[str, Any]]) -> None:
        payload = {"notebook": str(directory), "checkedAt": time.time(), "workers": workers}
        self._post(lambda: self._notify(METHOD, payload))
