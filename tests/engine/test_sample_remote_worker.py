"""samples/remote_worker validates and runs against a `strata worker` this test starts. The
sample names a fixed URL (the one scripts/main.sh serves), so the test runs a copy whose
`[[workers]]` URL points at its own worker on a free loopback port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import by_id, run_json, strata
from test_executor_e2e import start_worker

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "remote_worker"
SAMPLE_URL = "http://127.0.0.1:8790"


@pytest.fixture
def worker_url(tmp_path: Path) -> Iterator[str]:
    for _, url in start_worker(tmp_path / "worker-home"):
        yield url


def copy_pointing_at(tmp_path: Path, url: str) -> Path:
    nb = tmp_path / "remote_worker"
    shutil.copytree(SAMPLE, nb, ignore=shutil.ignore_patterns(".strata"))
    manifest = nb / "notebook.toml"
    text = manifest.read_text()
    assert f'url = "{SAMPLE_URL}"' in text  # the port scripts/main.sh starts the worker on
    manifest.write_text(text.replace(SAMPLE_URL, url))
    return nb


def test_sample_validates() -> None:
    proc = strata("validate", SAMPLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sample_runs_its_remote_cell_on_the_worker(tmp_path: Path, worker_url: str) -> None:
    nb = copy_pointing_at(tmp_path, worker_url)
    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 0, report
    assert cells["score"]["stdout"].startswith("scored 4 customers on ")
    assert cells["report"]["stdout"].startswith("top customer: ")

    code, report = run_json(nb)
    python_cells = [cell for cell in report["cells"] if cell["id"] != "intro"]  # not markdown
    assert code == 0 and all(cell["cache_hit"] for cell in python_cells), report
