"""The spare's warm-up (backends/local/prewarm.py): it yields to the job at once, stores and
loads through the real codec, and cells behind a warmed spare behave as before."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandas.testing as pdt

from strata_engine.backends.jobs import CellJob
from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.backends.local.prewarm import core_free, prepare, prewarm
from strata_engine.store import BlobStore, load_value, store_value
from strata_engine.store.arrow_codec import round_trip_frame_steps


def test_a_waiting_job_stops_the_warm_up_before_any_step() -> None:
    asked: list[bool] = []

    def job_waiting() -> bool:
        asked.append(True)
        return True

    prewarm(job_waiting, idle_core=lambda: True)
    assert asked == [True]


def test_the_warm_up_checks_for_the_job_between_steps_until_it_is_done() -> None:
    prepare()  # as the zygote does once pandas is preloaded
    asked: list[bool] = []

    def job_waiting() -> bool:
        asked.append(True)
        return False

    prewarm(job_waiting, idle_core=lambda: True)
    assert len(asked) > 3  # several steps, each preceded by a look at the socket


def test_on_a_busy_machine_the_spare_does_not_warm_up() -> None:
    asked: list[bool] = []

    def job_waiting() -> bool:
        asked.append(True)
        return False

    prewarm(job_waiting, idle_core=lambda: False)
    assert asked == []


def test_the_in_memory_round_trip_gives_back_the_frame() -> None:
    frame = pd.DataFrame({"i": [0, 1, 2], "f": [0.5, 1.5, float("nan")], "s": ["a", None, "c"]})
    frame = frame[frame["i"] > 0]
    *_, loaded = round_trip_frame_steps(frame)
    assert loaded is not None
    pdt.assert_frame_equal(loaded, frame)


def test_frame_inputs_behind_warmed_spares_load_and_publish_as_before(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    frame = pd.DataFrame({"k": [1, 2, 3], "v": [0.5, 1.5, 2.5]})
    stored = {"df": store_value(blobs, "df", frame)}
    with LocalExecutor(blobs, preload=["pandas"]) as executor:
        for i in range(3):  # the first cell's process may be a cold fork; the rest are spares
            source = f"out = df.assign(w=df.v * {i})\nout['v'].sum()\n"
            job = CellJob(
                cell_id=f"c{i}",
                language="python",
                source=source,
                filename="cells/c.py",
                inputs=stored,
                publish=("out",),
                required=frozenset({"out"}),
                env={},
                timeout=60.0,
                cwd=tmp_path,
            )
            result = executor.run(job)
            assert result.status == "ok", result.error
            out = load_value(blobs, result.outputs["out"])
            pdt.assert_frame_equal(out, frame.assign(w=frame.v * i))  # type: ignore[arg-type]


def test_spares_reseed_numpy_so_each_cell_draws_fresh_numbers(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    draws = []
    # pandas imports numpy.random: each process is a fork of one seeded generator
    with LocalExecutor(blobs, preload=["pandas"]) as executor:
        for i in range(4):
            job = CellJob(
                cell_id=f"c{i}",
                language="python",
                source="import numpy\nfloat(numpy.random.random())\n",
                filename="cells/c.py",
                inputs={},
                publish=(),
                required=frozenset(),
                env={},
                timeout=60.0,
                cwd=tmp_path,
            )
            draws.append(executor.run(job).displays[0]["text/plain"])
    assert len(set(draws)) == len(draws)


def test_a_core_is_free_while_fewer_tasks_than_cores_run_beside_the_spare() -> None:
    # The fourth field counts runnable tasks now, the reader included; the averages lag.
    assert core_free(b"3.90 3.50 3.10 2/81 24274\n", 2)  # the previous cell and the spare
    assert not core_free(b"0.01 0.01 0.01 3/81 24274\n", 2)  # the engine is busy too
    assert core_free(b"0.01 0.01 0.01 1/81 24274\n", 1)
    assert not core_free(b"garbage", 2)
