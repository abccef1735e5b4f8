"""What a spare cell process does while it waits for its job: touch what every cell touches.

A spare is a fresh fork of the zygote. The first time it runs a piece of the harness or the
codecs, it writes to pages it still shares with the zygote (reference counts, the adaptive
interpreter's counters in code objects, pandas' and Arrow's caches), and each such page is
copied then: measured at ~4 ms of a cell's input load and ~1 ms of its mutation watch for a
DataFrame input. Running the same code once on a tiny value, before the job arrives, moves
those copies off the cell's critical path: the spare is forked while the previous cell runs.

Every step is skipped once the job is there (`job_waiting`), so a spare that is needed at
once starts its job at once. Nothing here leaves state a cell could see: the values are local
and dropped, nothing touches the disk, and the zygote already ran the same code (preload).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator

from strata_engine.backends.local import harness, mutation
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
    try:
        cores = len(os.sched_getaffinity(0))
        return cores - os.getloadavg()[0] >= 1.0
    except (AttributeError, OSError):  # not on Linux
        return False


def _steps() -> Generator[None, None, None]:
    harness.compile_cell("x = 1\nx\n", "<strata prewarm>")
    encode_record({"result": {"status": "ok", "outputs": {}, "unstored": {}}})
    pandas = sys.modules.get("pandas")
    if pandas is None or "pyarrow" not in sys.modules:
        return  # not preloaded: the cell pays the imports anyway, and the copies with them
    yield
    from strata_engine.store import arrow_codec

    # The shape of a typical pipeline frame: numeric and string columns, a filtered index.
    frame = pandas.DataFrame({"i": [0, 1, 2, 3], "f": [0.0, 0.5, 1.0, 1.5], "s": list("abcd")})
    yield
    frame = frame[frame["f"] > 0]
    yield
    for loaded in arrow_codec.round_trip_frame_steps(frame):
        if loaded is not None:  # the last step's: the frame as a cell's input would be
            mutation.watch(("frame",), {"frame": loaded}, ())
        yield
