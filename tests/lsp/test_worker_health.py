"""strata/workerHealth and strata/checkWorkerHealth over stdio, against a real `strata worker`
and plain HTTP servers on loopback; and strata/cellStarted naming the engine's placement."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from strata_engine import __version__

from .conftest import NotebookFactory
from .harness import SERVER, Session, start, stop

pytestmark = pytest.mark.asyncio
HEALTH = "strata/workerHealth"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def worker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `strata worker` on loopback."""
    home = tmp_path_factory.mktemp("lsp-health")
    process = subprocess.Popen(
        [sys.executable, "-m", "strata_engine.cli", "worker", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=home,
        env={**os.environ, "STRATA_SIDE": "worker"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once it listens
    assert line.startswith("strata worker listening on http://"), line
    try:
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


def workers_header(*entries: tuple[str, str, str], default: str = "") -> str:
    """`[[workers]]` blocks for (name, backend, url)."""
    lines = [f'worker = "{default}"'] if default else []
    for name, backend, url in entries:
        lines += ["[[workers]]", f'name = "{name}"', f'backend = "{backend}"']
        if url:
            lines += ["[workers.config]", f'url = "{url}"']
        lines.append("")
    return "\n".join(lines)


def by_name(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {worker["name"]: worker for worker in params["workers"]}


def of(directory: Path) -> Any:
    return lambda params: params["notebook"] == str(directory)


async def test_opening_a_notebook_reports_each_workers_health(
    lsp: Session, make_notebook: NotebookFactory, worker_url: str
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    cells = {"a": "# @worker gpu\nx = 1\n", "b": "# @worker old\ny = 2\n", "c": "z = 3\n"}
    header = workers_header(("gpu", "executor", worker_url), ("old", "executor", dead))
    directory = make_notebook(cells, header=header + workers_header(("cpu", "local", "")))
    lsp.open_notebook(directory, cells)

    health = by_name(await lsp.wait_for(HEALTH, of(directory)))
    assert health["gpu"] == {
        "name": "gpu",
        "backend": "executor",
        "status": "healthy",
        "target": f"{worker_url}/health",
        "version": __version__,
        "protocols": ["v1"],
    }
    assert health["old"]["status"] == "unhealthy"
    assert health["old"]["error"] == f"is not reachable: connection refused at {dead}/health"
    assert health["cpu"]["status"] == "healthy"

    # The states say which cells sit on a declared worker, so the editor can show its health.
    states = await lsp.state(directory, lambda cells: "a" in cells)
    assert (states["a"]["worker"], states["a"]["backend"]) == ("gpu", "executor")
    assert (states["b"]["worker"], states["b"]["backend"]) == ("old", "executor")
    assert "worker" not in states["c"]

    # Asked again: probed again and answered even though nothing changed.
    mark = lsp.mark()
    answer = await lsp.client.protocol.send_request_async(
        "strata/checkWorkerHealth", {"notebook": str(directory)}
    )
    assert answer["checking"] is True
    again = await lsp.wait_for(HEALTH, of(directory), after=mark)
    assert by_name(again)["gpu"]["status"] == "healthy"


async def test_a_notebook_with_only_local_workers_is_never_probed(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    cells = {"a": "# @worker cpu\nx = 1\n"}
    directory = make_notebook(cells, header=workers_header(("cpu", "local", "")))
    lsp.open_notebook(directory, cells)
    states = await lsp.state(directory, lambda cells: "a" in cells)
    assert (states["a"]["worker"], states["a"]["backend"]) == ("cpu", "local")
    answer = await lsp.client.protocol.send_request_async(
        "strata/checkWorkerHealth", {"notebook": str(directory)}
    )
    assert answer == {"checking": False}
    assert lsp.recorder.all(HEALTH) == []


class _Toggle(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = self.server.status  # type: ignore[attr-defined]
        body = json.dumps(
            {"status": status, "capabilities": {"protocol_versions": ["v1"]}, "version": "9"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def toggling() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Toggle)
    server.status = "draining"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest_asyncio.fixture
async def fast_lsp() -> AsyncIterator[Session]:
    session = await start(SERVER, options={"workerHealthSeconds": 0.2})
    try:
        yield session
    finally:
        await stop(session)


async def test_polling_reports_a_worker_that_becomes_healthy_and_workers_that_go_away(
    fast_lsp: Session, make_notebook: NotebookFactory, toggling: ThreadingHTTPServer
) -> None:
    url = f"http://127.0.0.1:{toggling.server_address[1]}"
    cells = {"a": "x = 1\n"}
    directory = make_notebook(cells, header=workers_header(("gpu", "executor", url)))
    manifest = directory / "notebook.toml"
    lsp = fast_lsp
    lsp.open_notebook(directory, cells)
    first = by_name(await lsp.wait_for(HEALTH, of(directory)))
    assert first["gpu"]["error"] == f"reports status 'draining', not 'healthy' at {url}/health"

    toggling.status = "healthy"  # type: ignore[attr-defined]
    healthy = await lsp.wait_for(
        HEALTH, lambda p: of(directory)(p) and by_name(p)["gpu"]["status"] == "healthy"
    )
    assert by_name(healthy)["gpu"]["version"] == "9"
    # Unchanged answers are not repeated: the next notification is a change.
    mark = lsp.mark()

    # The editor drops the worker from notebook.toml: the health item has nothing to show.
    uri = lsp.open_text(manifest)
    lsp.edit_text(uri, manifest.read_text().split("[[workers]]")[0])
    gone = await lsp.wait_for(HEALTH, of(directory), after=mark)
    assert gone["workers"] == []


async def test_cell_started_names_the_placed_worker_and_its_backend(
    lsp: Session, make_notebook: NotebookFactory, worker_url: str
) -> None:
    cells = {
        "remote": "# @worker gpu\nimport os\nside = os.environ.get('STRATA_SIDE', 'engine')\n",
        "by_default": "u = side + '!'\n",
        "here": "# @worker local\nv = 1\n",
        "cpu": "# @worker cpu\nw = 2\n",
    }
    header = workers_header(("gpu", "executor", worker_url), default="gpu")
    directory = make_notebook(cells, header=header + workers_header(("cpu", "local", "")))
    lsp.open_notebook(directory, cells)
    await lsp.state(directory, lambda cells: cells["here"]["state"] == "never_run")

    mark = lsp.mark()
    finished = await lsp.run_to_end(directory, "all")
    assert finished["success"] is True, finished["cells"]
    started = {
        p["cellId"]: (p["worker"], p["backend"])
        for p in lsp.recorder.all("strata/cellStarted", mark)
    }
    assert started == {
        "remote": ("gpu", "executor"),
        "by_default": ("gpu", "executor"),  # the notebook's default worker
        "here": ("local", "local"),
        "cpu": ("cpu", "local"),  # a declared worker on this machine: not a dispatch
    }
