"""samples/dask_cluster validates and runs against a dask LocalCluster this test starts. The
sample names a fixed scheduler address (the one its main.sh starts), so the test runs a copy
whose `[[workers]]` scheduler points at its own cluster on a free loopback port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import by_id, run_json, strata

distributed = pytest.importorskip("distributed")

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "dask_cluster"
SAMPLE_SCHEDULER = "tcp://127.0.0.1:8791"


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    cluster = distributed.LocalCluster(
        n_workers=2,
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


def copy_pointing_at(tmp_path: Path, scheduler: str) -> Path:
    nb = tmp_path / "dask_cluster"
    shutil.copytree(SAMPLE, nb, ignore=shutil.ignore_patterns(".strata"))
    manifest = nb / "notebook.toml"
    text = manifest.read_text()
    assert f'scheduler = "{SAMPLE_SCHEDULER}"' in text  # the port main.sh starts it on
    manifest.write_text(text.replace(SAMPLE_SCHEDULER, scheduler))
    return nb


def test_sample_validates() -> None:
    proc = strata("validate", SAMPLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_main_sh_serves_the_address_the_notebook_declares() -> None:
    script = (SAMPLE / "main.sh").read_text()
    port = SAMPLE_SCHEDULER.rsplit(":", 1)[1]
    assert f'port="${{STRATA_DASK_PORT:-{port}}}"' in script
    assert "trap stop_cluster EXIT" in script
    assert "--nworkers 2 --nthreads 1" in script


def test_sample_runs_its_cluster_cells_on_the_cluster(tmp_path: Path, scheduler: str) -> None:
    nb = copy_pointing_at(tmp_path, scheduler)
    code, report = run_json(nb, "--jobs", "1")
    cells = by_id(report)
    assert code == 0, report
    assert cells["by_region"]["stdout"].startswith("48 region-months in process ")
    assert cells["by_product"]["stdout"].startswith("5 products in process ")
    assert cells["report"]["stdout"].startswith("best region: ")
    assert "top product: " in cells["report"]["stdout"]

    code, report = run_json(nb)
    python_cells = [cell for cell in report["cells"] if cell["id"] != "intro"]  # not markdown
    assert code == 0 and all(cell["cache_hit"] for cell in python_cells), report


def test_without_a_scheduler_the_cluster_cells_fail_by_name_and_report_is_skipped(
    tmp_path: Path,
) -> None:
    nb = copy_pointing_at(tmp_path, "tcp://127.0.0.1:9")  # discard port: nothing listens
    manifest = nb / "notebook.toml"
    manifest.write_text(manifest.read_text().replace("connect_timeout = 20", "connect_timeout = 2"))
    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 1
    for cell in ("by_region", "by_product"):
        assert cells[cell]["status"] == "error"
        assert "worker 'cluster'" in cells[cell]["error"], cells[cell]
        assert "tcp://127.0.0.1:9" in cells[cell]["error"], cells[cell]
    assert (cells["report"]["status"], cells["report"]["reason"]) == ("skipped", "upstream failed")
    assert cells["sales"]["status"] == "ok"
