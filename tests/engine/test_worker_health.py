"""Worker health (backends/health.py): each `[[workers]]` entry asked through its backend.
Real parts only: a `strata worker` process and plain HTTP servers on loopback, a dask
LocalCluster, and closed ports for the dead ones."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_executor_e2e import start_worker

from strata_engine import __version__
from strata_engine.backends.health import HEALTHY, UNHEALTHY, probe, probe_all, remote
from strata_engine.model.manifest import WorkerSpec
from strata_engine.model.notebook import load_notebook


def executor(url: str, name: str = "gpu", **config: Any) -> WorkerSpec:
    return WorkerSpec(name, "executor", None, {"url": url, **config})


def dask_worker(scheduler: str, name: str = "cluster") -> WorkerSpec:
    return WorkerSpec(name, "dask", None, {"scheduler": scheduler})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def worker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("health") / "worker-home"
    for _process, url in start_worker(home):
        yield url


class _Answer(BaseHTTPRequestHandler):
    """GET /health answers whatever the server was given: (status code, body)."""

    def do_GET(self) -> None:
        code, body = self.server.answer  # type: ignore[attr-defined]
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def served(server: ThreadingHTTPServer, code: int, body: Any) -> str:
    server.answer = (code, body)  # type: ignore[attr-defined]
    return f"http://127.0.0.1:{server.server_address[1]}"


# -- executor -------------------------------------------------------------------------------
def test_a_running_strata_worker_is_healthy_with_its_version(worker_url: str) -> None:
    health = probe(executor(worker_url))
    assert health.status == HEALTHY, health
    assert health.version == __version__
    assert "v1" in health.protocols
    assert health.target == f"{worker_url}/health"
    assert health.error is None
    assert health.to_json() == {
        "name": "gpu",
        "backend": "executor",
        "status": "healthy",
        "target": f"{worker_url}/health",
        "version": __version__,
        "protocols": list(health.protocols),
    }


def test_an_execute_endpoint_url_is_asked_at_its_base_without_credentials(
    worker_url: str,
) -> None:
    with_login = worker_url.replace("http://", "http://alice:s3cret@") + "/v1/execute/"
    health = probe(executor(with_login))
    assert health.status == HEALTHY, health
    assert health.target == f"{worker_url}/health"
    assert "s3cret" not in json.dumps(health.to_json())


def test_a_closed_port_is_unhealthy_naming_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    health = probe(executor(url))
    assert health.status == UNHEALTHY
    assert health.error == f"is not reachable: connection refused at {url}/health"


def test_a_worker_without_url_is_unhealthy_saying_what_to_set() -> None:
    health = probe(WorkerSpec("gpu", "executor", None, {}))
    assert health.status == UNHEALTHY
    assert health.error == "has no url: set [workers.config] url in notebook.toml"


@pytest.mark.parametrize(
    ("code", "body", "error"),
    [
        (200, {"status": "draining"}, "reports status 'draining', not 'healthy'"),
        (500, "boom", "answered HTTP 500 Internal Server Error to GET /health"),
        (200, "<html>", "answered GET /health with something that is not JSON"),
        (
            200,
            {"status": "healthy", "capabilities": {"protocol_versions": ["v2"]}},
            "does not offer executor protocol v1 (offers v2)",
        ),
    ],
)
def test_an_answer_that_is_not_a_healthy_v1_worker_is_unhealthy(
    answering: ThreadingHTTPServer, code: int, body: Any, error: str
) -> None:
    url = served(answering, code, body)
    health = probe(executor(url))
    assert health.status == UNHEALTHY
    assert health.error == f"{error} at {url}/health"


def test_a_worker_that_does_not_answer_in_time_is_unhealthy() -> None:
    # A listening socket that never accepts: the request waits out the timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(0)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        health = probe(executor(url), timeout=0.3)
    assert health.status == UNHEALTHY
    assert health.error == f"did not answer within 0.3s at {url}/health"


# -- dask -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    local = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield local
    finally:
        local.close()


def test_a_dask_scheduler_with_workers_is_healthy(cluster: Any) -> None:
    address = str(cluster.scheduler_address)
    health = probe(dask_worker(address))
    assert health.status == HEALTHY, health
    assert health.workers == 1
    assert health.target == address
    assert (health.version or "").startswith("distributed ")


def test_a_dask_scheduler_without_workers_is_unhealthy() -> None:
    distributed = pytest.importorskip("distributed")
    empty = distributed.LocalCluster(
        n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    )
    try:
        address = str(empty.scheduler_address)
        health = probe(dask_worker(address))
    finally:
        empty.close()
    assert health.status == UNHEALTHY
    assert health.workers == 0
    assert health.error == f"dask scheduler {address} has no workers: a cell sent now would wait"


def test_a_dead_scheduler_is_unhealthy_naming_it() -> None:
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{closed_port()}"
    health = probe(dask_worker(address), timeout=0.5)
    assert health.status == UNHEALTHY
    assert (health.error or "").startswith(f"dask scheduler {address} ")
    assert health.target == address


def test_without_dask_installed_the_worker_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an absent package does
    health = probe(dask_worker("tcp://127.0.0.1:8786"))
    assert health.status == UNHEALTHY
    assert "dask is not installed" in (health.error or "")


# -- the front door -------------------------------------------------------------------------
def test_probe_all_answers_for_every_entry_in_order(tmp_path: Path, worker_url: str) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    (tmp_path / "cells").mkdir()
    (tmp_path / "notebook.toml").write_text(
        'notebook_id = "health"\n\n'
        '[[workers]]\nname = "gpu"\nbackend = "executor"\n'
        f'[workers.config]\nurl = "{worker_url}"\n\n'
        '[[workers]]\nname = "old"\nbackend = "executor"\n'
        f'[workers.config]\nurl = "{dead}"\n\n'
        '[[workers]]\nname = "cpu"\nbackend = "local"\n\n'
        '[[workers]]\nname = "hpc"\nbackend = "slurm"\n'
    )
    workers = load_notebook(tmp_path).manifest.workers
    results = probe_all(workers)
    assert [(h.worker, h.backend, h.status) for h in results] == [
        ("gpu", "executor", "healthy"),
        ("old", "executor", "unhealthy"),
        ("cpu", "local", "healthy"),
        ("hpc", "slurm", "unhealthy"),
    ]
    assert "backend 'slurm', which Strata does not know" in (results[3].error or "")
    assert [w.name for w in remote(workers)] == ["gpu", "old", "hpc"]
    assert probe_all(()) == []
