"""What a spare cell process does while it waits for its job: touch what every cell touches.

A spare is a fresh fork of the zygote. The first time it runs a piece of the harness or the
codecs, it writes to pages it still shares with the zygote (reference counts, the adaptive
interpreter's counters in code objects, pandas' and Arrow's caches), and each such page is
copied then: measured at ~4 ms of a cell's input load and ~6 ms of storing a DataFrame
output. Running the same code once on tiny frames (made in the zygote, so inherited for
free), before the job arrives, moves those copies off the cell's critical path: the spare is
forked while the previous cell runs.

Every step is skipped once the job is there (`job_waiting`), so a spare that is needed at
once starts its job at once. Nothing here leaves state a cell could see: the values are local
and dropped, nothing touches the disk, and the zygote already ran the same code (preload).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator
from typing import Any

from strata_engine.backends.local import harness, mutation
from strata_engine.backends.local.mutation_scope import unchangeable
from strata_engine.backends.local.protocol import encode_record


def prewarm(job_waiting: Callable[[], bool], idle_core: Callable[[], bool] | None = None) -> None:
    """Run the warm-up steps until the job arrives; never raises. Only on a core that is
    otherwise idle: the spare runs beside the previous cell, and on a busy machine its work
    would slow that cell more than it saves the next (measured on a loaded 2-core host)."""
    if not (idle_core or _idle_core)():
        return
    steps = _steps()
    try:
        while not job_waiting():
            next(steps)  # one step: a few ms at most, the longest wait a job can see
    except StopIteration:
        pass
    except Exception:  # a warm-up that fails costs the cell the copies, nothing more
        pass
    finally:
        steps.close()


def _idle_core() -> bool:
    """Whether a core is free for this spare right now. The kernel's count of runnable
    tasks (the fourth field of /proc/loadavg, which counts this process too) answers for
    this instant; the load averages lag by a minute, so a first run's pandas import kept
    every spare of the run from warming up while the engine sat idle."""
    try:
        cores = len(os.sched_getaffinity(0))
        with open("/proc/loadavg", "rb") as handle:
            return core_free(handle.read(), cores)
    except (AttributeError, OSError):  # not on Linux
        return False


def core_free(loadavg: bytes, cores: int) -> bool:
    """From /proc/loadavg's text: whether fewer tasks than `cores` run beside the reader."""
    try:
        runnable = int(loadavg.split()[3].partition(b"/")[0])
    except (ValueError, IndexError):
        return False
    return runnable - 1 < cores


_frames: list[Any] = []
"""Tiny frames made once in the zygote (prepare), so a spare inherits them for free."""


def prepare() -> None:
    """In the zygote, after pandas is preloaded: the frames the spares will warm up on."""
    pandas = sys.modules.get("pandas")
    if pandas is None or "pyarrow" not in sys.modules or _frames:
        return
    try:
        # The two ways a frame goes into Arrow: a plain numeric one (a filtered pipeline
        # frame: int64 index) and one with strings (from_pandas and the layout probe).
        plain = pandas.DataFrame({"i": [0, 1, 2, 3], "f": [0.0, 0.5, 1.0, 1.5]})
        _frames.extend([plain[plain["f"] > 0], plain.assign(s=list("abcd"))])
    except Exception:
        _frames.clear()


def _steps() -> Generator[None, None, None]:
    harness.compile_cell("x = 1\nx\n", "<strata prewarm>")
    encode_record({"result": {"status": "ok", "outputs": {}, "unstored": {}}})
    if not _frames:
        return  # pandas not preloaded: the cell pays the imports anyway, and the copies
    yield
    from strata_engine.store import arrow_codec

    loaded = []
    for frame in _frames:  # what storing an output and loading an input run
        for step in arrow_codec.round_trip_frame_steps(frame):
            if step is not None:
                loaded.append(step)
            yield
    # What watching inputs runs: the scope on a cell that reads one, a digest otherwise.
    unchangeable("out = df.assign(g=df['f'] * 2)\n", ("df",), {"df": loaded[0]})
    yield
    mutation.watch(("df",), {"df": loaded[-1]}, ())
