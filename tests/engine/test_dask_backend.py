"""`# @worker cluster` on a real dask.distributed LocalCluster (loopback, no dashboard):
`strata run` sends the cell as a task, local cells downstream read what it returns, a re-run
is a cache hit, and an unreachable scheduler fails the cell by name, in bounded time,
without ever running it locally."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli import by_id, run_json

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    # In-process workers (one thread) start in about a second; tcp on loopback so the
    # `strata run` subprocess can reach the scheduler.
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write(nb: Path, scheduler: str, remote_source: str, extra: str = "") -> None:
    cells = {
        "load": 'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2, 3]})\n',
        "remote": remote_source,
        "use": "result = total * 10\nrows = len(doubled)\nprint(result, rows, side)\n",
    }
    (nb / "cells").mkdir(parents=True, exist_ok=True)
    lines = [
        'notebook_id = "dask-e2e"',
        "",
        "[[workers]]",
        'name = "cluster"',
        'backend = "dask"',
        "[workers.config]",
        f'scheduler = "{scheduler}"',
        extra,
        "",
    ]
    for order, (ident, source) in enumerate(cells.items(), start=1):
        (nb / "cells" / f"{ident}.py").write_text(source)
        lines += ["[[cells]]", f'id = "{ident}"', f'file = "{ident}.py"']
        lines += ['language = "python"', f"order = {order}", ""]
    (nb / "notebook.toml").write_text("\n".join(lines))


# The task runs the cell in a scratch directory named strata-dask-*: where it really ran.
REMOTE = (
    "# @worker cluster\n"
    "import os\n"
    "total = int(df['a'].sum())\n"
    "doubled = df.assign(b=df['a'] * 2)\n"
    "side = 'dask' if 'strata-dask-' in os.getcwd() else 'engine'\n"
    "print('remote', total)\n"
)


def test_cell_runs_as_a_dask_task_and_downstream_reads_its_outputs(
    tmp_path: Path, scheduler: str
) -> None:
    nb = tmp_path / "nb"
    write(nb, scheduler, REMOTE)

    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 0, report
    assert cells["remote"]["status"] == "ok" and cells["remote"]["stdout"] == "remote 6\n"
    assert cells["use"]["stdout"] == "60 3 dask\n"  # the DataFrame came back as Arrow

    code, report = run_json(nb)
    assert code == 0
    assert all(cell["cache_hit"] for cell in report["cells"]), report

    # A fully cached run never connects, so it must not pay for importing dask.
    probe = (
        "import sys\nfrom strata_engine.cli import main\n"
        f"code = main(['run', {str(nb)!r}, '--quiet'])\n"
        "print(code, [m for m in ('dask', 'distributed') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-1] == "0 []"


def test_cell_error_on_the_cluster_is_the_cells_error(tmp_path: Path, scheduler: str) -> None:
    nb = tmp_path / "nb"
    write(nb, scheduler, "# @worker cluster\ntotal = df['missing']\n")
    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 1
    assert cells["remote"]["status"] == "error"
    assert "KeyError" in cells["remote"]["error"] + (cells["remote"].get("traceback") or "")
    assert cells["use"]["status"] == "skipped"


def test_unreachable_scheduler_fails_the_cell_by_name_and_never_runs_it_locally(
    tmp_path: Path,
) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    marker = tmp_path / "ran-locally.txt"
    nb = tmp_path / "nb"
    write(nb, address, REMOTE + f"open({str(marker)!r}, 'w').write('ran')\n", "connect_timeout = 2")

    began = time.monotonic()
    code, report = run_json(nb)
    elapsed = time.monotonic() - began
    cells: dict[str, Any] = by_id(report)
    assert code == 1
    assert cells["load"]["status"] == "ok"
    assert cells["remote"]["status"] == "error"
    error = cells["remote"]["error"]
    assert f"worker 'cluster' (dask scheduler {address}) is unreachable" in error, error
    assert cells["use"]["status"] == "skipped"
    assert not marker.exists()
    assert elapsed < 20, elapsed  # the 2 s connect timeout bounds it, plus process startup


def test_cancel_cancels_the_task_and_the_cell_reports_cancelled(
    tmp_path: Path, scheduler: str
) -> None:
    from strata_engine.backends.jobs import CellJob, CellResult
    from strata_engine.backends.registry import place
    from strata_engine.model.manifest import WorkerSpec
    from strata_engine.store import BlobStore

    spec = WorkerSpec("cluster", "dask", None, {"scheduler": scheduler})
    placement = place("cluster", lambda name: spec if name == "cluster" else None)
    assert placement.problem is None and placement.backend is not None
    executor = placement.backend.open(spec, BlobStore(tmp_path / "store"))
    started = tmp_path / "started"
    os.mkfifo(started)
    # The cell announces itself through the FIFO, then outlives the test; its short timeout
    # frees the cluster's one thread for whatever runs next.
    source = f"import time\nopen({str(started)!r}, 'w').write('go')\ntime.sleep(60)\n"
    job = CellJob("slow", "python", source, "slow.py", {}, [], frozenset(), {}, 3.0, tmp_path)
    results: list[CellResult] = []
    runner = threading.Thread(target=lambda: results.append(executor.run(job)))
    try:
        runner.start()
        with open(started) as fifo:  # blocks until the cell runs on the cluster
            assert fifo.read() == "go"
        executor.cancel()
        runner.join(timeout=30)
        assert not runner.is_alive()
        assert results[0].status == "error" and results[0].error == "cancelled"
    finally:
        executor.close()


def test_large_input_is_scattered_to_the_worker_and_arrives_intact(
    tmp_path: Path, scheduler: str
) -> None:
    # Over SCATTER_BYTES as Arrow: it goes to the worker directly, not through the scheduler.
    nb = tmp_path / "nb"
    write(nb, scheduler, REMOTE)
    big = 'import pandas as pd\ndf = pd.DataFrame({"a": range(400_000)})\n'
    (nb / "cells" / "load.py").write_text(big)
    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 0, report
    assert cells["remote"]["stdout"] == f"remote {sum(range(400_000))}\n"
    assert cells["use"]["stdout"] == f"{sum(range(400_000)) * 10} 400000 dask\n"
