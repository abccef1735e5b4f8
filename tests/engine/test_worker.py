"""`strata worker` (SPEC 13) end to end: a real worker process on a loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from worker_client import Field, Worker, execute, metadata, run_cell, start_worker, unpack

from strata_engine.store import BlobStore, load_value, store_value
from strata_engine.worker.bundle import output_file
from strata_engine.worker.wire import from_wire

TOKEN_VAR = "STRATA_TEST_WORKER_TOKEN"
TOKEN = "s3cr3t-token"


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    yield from start_worker()


@pytest.fixture(scope="module")
def guarded() -> Iterator[Worker]:
    """A worker with a token, a 2 MiB request limit and a 1 MiB part limit."""
    limits = ("--max-request-mb", "2", "--max-part-mb", "1")
    yield from start_worker("--token-env", TOKEN_VAR, *limits, env={TOKEN_VAR: TOKEN})


def test_worker_binds_loopback_and_cleans_up_on_sigterm(tmp_path: Path) -> None:
    started = start_worker(env={"TMPDIR": str(tmp_path)})
    worker = next(started)
    assert worker.host == "127.0.0.1"
    assert run_cell(worker, "import pathlib\npathlib.Path('scratch.txt').write_text('x')")[0] == 200
    assert list(tmp_path.glob("strata-worker-*"))  # its scratch directory, while it runs
    next(started, None)  # terminate() and wait
    assert not list(tmp_path.glob("strata-worker-*"))


def test_health_needs_no_token_and_lists_the_protocol(guarded: Worker) -> None:
    status, headers, body = guarded.request("GET", "/health")
    assert status == 200 and headers["Content-Type"] == "application/json"
    health = json.loads(body)
    assert health["status"] == "healthy"
    assert health["capabilities"]["protocol_versions"] == ["v1"]
    assert health["capabilities"]["transform_refs"] == ["notebook_cell@v1"]
    assert isinstance(health["capabilities"]["features"], dict) and health["version"]


def test_json_and_arrow_inputs_run_and_come_back(worker: Worker, tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    frame = store_value(blobs, "df", pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    assert frame.content_type == "arrow/ipc"
    inputs = [
        {"name": "df", "format": "arrow/ipc", "file": "in0"},
        {"name": "n", "format": "json/object", "file": "in1"},
    ]
    source = (
        "print('hello from the worker')\n"
        "bigger = df.assign(a=df.a * n)\n"
        "total = int(bigger.a.sum())\n"
        "display(Markdown('**done**'))\n"
    )
    status, headers, body = execute(
        worker,
        [
            ("metadata", "metadata.json", metadata(source, inputs)),
            ("in0", "df.arrow", blobs.get_bytes(frame.digest)),
            ("in1", "n.json", b"10"),
        ],
    )
    assert status == 200 and headers["Content-Type"] == "application/x-tar"
    manifest, files = unpack(body)
    assert manifest["success"] is True and manifest["error"] is None
    assert files["stdout.txt"] == b"hello from the worker\n"
    assert manifest["variables"]["total"] == {
        "content_type": "json/object",
        "file": "files/total.json",
        "bytes": 2,
    }
    assert files["files/total.json"] == b"60"
    entry = manifest["variables"]["bigger"]
    assert entry["file"] == output_file("bigger", "arrow/ipc") == "files/bigger.arrow"
    data = files[entry["file"]]
    assert len(data) == entry["bytes"]
    back = BlobStore(tmp_path / "back")
    # On the wire as the original Strata writes it (an Arrow stream), our blob once read.
    decoded = load_value(back, from_wire(back, "bigger", entry["content_type"], data))
    assert isinstance(decoded, pd.DataFrame)
    assert decoded["a"].tolist() == [10, 20, 30] and decoded["b"].tolist() == ["x", "y", "z"]
    assert any("done" in bundle.get("text/markdown", "") for bundle in manifest["displays"])


def test_metadata_as_plain_field_works_too(worker: Worker) -> None:
    status, _, body = execute(worker, [("metadata", None, metadata("x = 1 + 1"))])
    assert status == 200
    manifest, files = unpack(body)
    assert manifest["success"] is True and files["files/x.json"] == b"2"


def test_env_reaches_the_cell(worker: Worker) -> None:
    status, body = run_cell(
        worker, "import os\nvalue = os.environ['GREETING']", env={"GREETING": "hi"}
    )
    assert status == 200 and unpack(body)[1]["files/value.json"] == b'"hi"'


def test_the_cells_imports_are_preloaded_in_the_warm_process(worker: Worker) -> None:
    # Imported before the cell's own `import` runs: the fork inherited it from the zygote,
    # so a pandas cell does not pay its import on every request.
    source = "import sys\nwarm = 'colorsys' in sys.modules\nimport colorsys\n"
    status, body = run_cell(worker, source)
    assert status == 200 and unpack(body)[1]["files/warm.json"] == b"true"


def test_a_failing_cell_is_200_with_the_error(worker: Worker) -> None:
    status, body = run_cell(worker, "print('before')\nraise ValueError('boom')")
    assert status == 200
    manifest, files = unpack(body)
    assert manifest["success"] is False
    assert "boom" in manifest["error"] and "ValueError" in manifest["traceback"]
    assert files["stdout.txt"] == b"before\n"
    assert manifest["variables"] == {}


def test_timeout_is_408(worker: Worker) -> None:
    status, body = run_cell(worker, "import time\ntime.sleep(60)", timeout_seconds=0.5)
    assert status == 408
    assert "timed out" in json.loads(body)["detail"]
    # The worker is free again afterwards.
    assert run_cell(worker, "ok = True")[0] == 200


def test_a_second_concurrent_request_is_503_with_retry_after(
    worker: Worker, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    source = f"import os, time\nwhile not os.path.exists({str(release)!r}):\n    time.sleep(0.01)\n"
    first: list[int] = []
    thread = threading.Thread(target=lambda: first.append(run_cell(worker, source)[0]))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while json.loads(worker.request("GET", "/health")[2])["active_executions"] != 1:
            assert time.monotonic() < deadline, "the first cell never started"
        status, headers, _ = execute(worker, [("metadata", "m.json", metadata("y = 2"))])
        assert status == 503 and int(headers["Retry-After"]) >= 1
    finally:
        release.touch()
        thread.join(timeout=60)
    assert first == [200]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": TOKEN}, 401)],
)
def test_token_is_required(guarded: Worker, headers: dict[str, str], status: int) -> None:
    code, _, body = execute(guarded, [("metadata", "m.json", metadata("x = 1"))], headers)
    assert code == status and json.loads(body)["detail"]


def test_right_token_runs(guarded: Worker) -> None:
    status, _, body = execute(
        guarded,
        [("metadata", "m.json", metadata("x = 1"))],
        {"Authorization": f"Bearer {TOKEN}"},
    )
    assert status == 200 and unpack(body)[0]["success"] is True


def test_token_is_not_visible_to_cells(guarded: Worker) -> None:
    source = f"import os\nseen = os.environ.get({TOKEN_VAR!r})"
    status, _, body = execute(
        guarded, [("metadata", "m.json", metadata(source))], {"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 200 and unpack(body)[1]["files/seen.json"] == b"null"


@pytest.mark.parametrize(
    ("size", "limit"), [(3 * 1024 * 1024, "the limit"), (1536 * 1024, "per-part")]
)
def test_oversized_request_or_part_is_413(guarded: Worker, size: int, limit: str) -> None:
    inputs = [{"name": "big", "format": "json/object", "file": "big"}]
    fields: list[Field] = [
        ("metadata", "m.json", metadata("n = len(big)", inputs)),
        ("big", "big.json", b'"' + b"x" * size + b'"'),
    ]
    status, _, body = execute(guarded, fields, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 413 and limit in json.loads(body)["detail"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("metadata", "m.json", b"{not json")], "not valid JSON"),
        ([("other", "m.json", b"{}")], "metadata"),
        (
            [
                (
                    "metadata",
                    "m.json",
                    metadata("y = x", [{"name": "x", "format": "json/object", "file": "../x"}]),
                ),
                ("../x", "../../etc/passwd", b"1"),
            ],
            None,
        ),
        (
            [
                (
                    "metadata",
                    "m.json",
                    metadata("y = 1", [{"name": "../../y", "format": "json/object", "file": "a"}]),
                ),
                ("a", "a.json", b"1"),
            ],
            "identifier",
        ),
        (
            [
                (
                    "metadata",
                    "m.json",
                    metadata("y = 1", [{"name": "x", "format": "text/evil", "file": "a"}]),
                ),
                ("a", "a", b"1"),
            ],
            "format",
        ),
        ([("metadata", "m.json", metadata("y = 1", protocol_version_ignored=True))], None),
    ],
)
def test_requests_are_validated(worker: Worker, fields: list[Field], message: str | None) -> None:
    status, _, body = execute(worker, fields)
    if message is None:
        # A traversal-like part name is only a dictionary key, and unknown params are
        # ignored: the cell runs and the bundle holds nothing but its own members.
        assert status == 200
        manifest, files = unpack(body)
        assert manifest["success"] is True
        assert set(files) == {"stdout.txt", "stderr.txt", "files/y.json"}
        assert files["files/y.json"] == b"1"
        return
    assert status == 400 and message in json.loads(body)["detail"]


def test_wrong_protocol_version_is_400(worker: Worker) -> None:
    bad = json.loads(metadata("x = 1"))
    bad["protocol_version"] = "v9"
    status, _, body = execute(worker, [("metadata", "m.json", json.dumps(bad).encode())])
    assert status == 400 and "protocol_version" in json.loads(body)["detail"]


@pytest.mark.parametrize(
    ("mounts", "message"),
    [
        ([{"name": "data", "uri": "file:///etc", "mode": "ro"}], "file://"),
        ([{"name": "data", "uri": "FILE:/etc", "mode": "ro"}], "file://"),
        ([{"name": "data", "uri": "ftp://host/x", "mode": "ro"}], "unsupported URI scheme"),
        ([{"name": "../x", "uri": "s3://bucket/prefix", "mode": "ro"}], "not a Python identifier"),
        ([{"name": "data", "uri": "s3://bucket/prefix", "mode": "wx"}], "mode must be"),
    ],
)
def test_bad_mounts_are_refused(worker: Worker, mounts: list[dict[str, str]], message: str) -> None:
    status, body = run_cell(worker, "x = 1", mounts=mounts)
    assert status == 400 and message in json.loads(body)["detail"]
    if "file://" in message:
        assert "'data'" in json.loads(body)["detail"]  # names the mount


def test_not_multipart_is_400_and_unknown_path_404(worker: Worker) -> None:
    status, _, body = worker.request(
        "POST", "/v1/execute", b"{}", {"Content-Type": "application/json"}
    )
    assert status == 400 and "multipart" in json.loads(body)["detail"]
    assert worker.request("GET", "/../../etc/passwd")[0] == 404


def _strata_worker(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STRATA_UNSET_TOKEN"}
    command = [sys.executable, "-m", "strata_engine.cli", "worker", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def test_refuses_to_start_without_its_token_or_its_port() -> None:
    unset = _strata_worker("--port", "0", "--token-env", "STRATA_UNSET_TOKEN")
    assert unset.returncode == 2 and "STRATA_UNSET_TOKEN" in unset.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = _strata_worker("--port", str(port))
    assert busy.returncode == 2 and "cannot listen on 127.0.0.1" in busy.stderr
