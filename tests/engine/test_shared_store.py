"""A shared store (`[cache] store = "s3://bucket/prefix"`, issue [5]) against a real S3
endpoint on loopback: two checkouts of one notebook reuse each other's results."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import NotebookFactory
from s3_server import CREDENTIALS, S3Server

from strata_engine.run.events import RunReport
from strata_engine.run.session import Session, StoreOpenError
from strata_engine.store import load_displays

CELLS = {
    "load": "x = [1, 2, 3]\nprint('loaded')\n",
    "total": "t = sum(x)\nprint('total', t)\nt\n",
    "leaf": "import sys\nprint('leaf', file=sys.stderr)\ndisplay({'t': t})\n",
}


def header(endpoint_url: str, bucket: str, prefix: str = "team/strata") -> str:
    return (
        f'[cache]\nstore = "s3://{bucket}/{prefix}"\n'
        f'[cache.options]\nendpoint_url = "{endpoint_url}"\n'
    )


def strata(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "strata_engine.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


def run(directory: Path) -> RunReport:
    with Session(directory) as session:
        return session.run()


def outcome(report: RunReport) -> list[tuple[str, str, str, str, object]]:
    return [(c.id, c.status, c.stdout, c.stderr, c.displays) for c in report.cells]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def checkouts(
    s3_server: S3Server, make_notebook: NotebookFactory
) -> Iterator[tuple[Path, Path, str]]:
    """Two checkouts (same notebook.toml and cells, different directories), one bucket."""
    bucket = s3_server.new_bucket()
    text = header(s3_server.endpoint_url, bucket)
    yield (
        make_notebook(CELLS, header=text, name="a"),
        make_notebook(CELLS, header=text, name="b"),
        bucket,
    )


def test_a_result_computed_in_one_checkout_is_a_hit_in_the_other(
    s3_server: S3Server, checkouts: tuple[Path, Path, str]
) -> None:
    a, b, bucket = checkouts
    first = run(a)
    assert [(c.id, c.status, c.executed) for c in first.cells] == [
        ("load", "ok", True),
        ("total", "ok", True),
        ("leaf", "ok", True),
    ]
    fs = s3_server.filesystem()
    entries = fs.ls(f"{bucket}/team/strata/index", detail=False)
    assert sorted(e.rsplit("/", 1)[-1] for e in entries) == sorted(
        f"{c.key}.json" for c in first.cells
    )
    stored = json.loads(fs.cat(f"{bucket}/team/strata/index/{first.cells[1].key}.json"))
    assert stored["cell_id"] == "total" and stored["stdout"] == "total 6\n"
    for value in stored["outputs"].values():
        assert fs.info(f"{bucket}/team/strata/blobs/{value['digest']}")["size"] == value["size"]

    with Session(b) as session:
        states = session.states()
        assert {s.state for s in states.values()} == {"ready"}
        # The editor replays a remote hit's displays before anything is fetched to disk.
        leaf = states["leaf"].entry
        assert leaf is not None
        assert load_displays(session.blobs, leaf.displays_digest) == first.cells[2].displays
        assert not (b / ".strata").exists()  # looking wrote nothing
        second = session.run()
    assert all(c.cache_hit and not c.executed for c in second.cells)
    assert outcome(second) == outcome(first)
    assert [c.key for c in second.cells] == [c.key for c in first.cells]
    assert (b / ".strata" / ".gitignore").read_text() == "*\n"


def test_the_cli_of_another_checkout_sees_ready_cells_and_runs_only_hits(
    checkouts: tuple[Path, Path, str],
) -> None:
    a, b, _ = checkouts
    assert strata("run", a, "--format", "json").returncode == 0
    status = strata("status", b)
    assert status.returncode == 0, status.stderr
    assert {c["state"] for c in json.loads(status.stdout)["cells"]} == {"ready"}
    proc = strata("run", b, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    cells = json.loads(proc.stdout)["cells"]
    assert [(c["id"], c["status"], c["cache_hit"]) for c in cells] == [
        ("load", "ok", True),
        ("total", "ok", True),
        ("leaf", "ok", True),
    ]
    assert cells[1]["stdout"] == "total 6\n" and cells[2]["stderr"] == "leaf\n"
    # Served from b's local cache now: the driver (s3fs, botocore: over a second to import)
    # is never even loaded.
    probe = (
        "import sys; from pathlib import Path; from strata_engine.run.session import Session\n"
        f"report = Session(Path({str(b)!r})).run()\n"
        "assert all(c.cache_hit for c in report.cells)\n"
        "print(sorted(m for m in ('fsspec', 's3fs', 'botocore') if m in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_a_hit_fetched_once_is_served_without_the_network(
    make_notebook: NotebookFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A private endpoint, stopped after the first fetch: any request would then fail."""
    from moto.server import ThreadedMotoServer

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = S3Server(f"http://{host}:{port}")
        bucket = endpoint.new_bucket()
        text = header(endpoint.endpoint_url, bucket)
        a, b, c = (make_notebook(CELLS, header=text, name=n) for n in "abc")
        first = run(a)
        fetched = run(b)
        looking = Session(c)  # the editor: read-only, lists the remote once
        assert {s.state for s in looking.states().values()} == {"ready"}
    finally:
        server.stop()
    assert all(c.cache_hit for c in fetched.cells)
    again = run(b)  # a new session: nothing memoized in memory
    assert all(c.cache_hit for c in again.cells)
    assert outcome(again) == outcome(first)
    # Keystrokes in the editor: a new key is answered by the listing, not by a request.
    with looking, caplog.at_level("WARNING"):
        for text in ("print('e')\n", "print('ed')\n", "print('edited')\n"):
            states = looking.states(looking.snapshot({"leaf": text}))
            assert states["leaf"].state == "never_run" and states["total"].state == "ready"
    assert not [r for r in caplog.records if "shared store" in r.getMessage()]
    # The endpoint is indeed unreachable now: a run's miss must ask it, and says so.
    (b / "cells" / "leaf.py").write_text("print('changed')\n")
    with Session(b) as session, pytest.raises(StoreOpenError) as raised:
        session.run()
    assert f"s3://{bucket}/team/strata" in str(raised.value)


def test_an_unreachable_endpoint_fails_the_run_naming_the_store(
    make_notebook: NotebookFactory, s3_server: S3Server
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    cells = {"a": "open('ran', 'w').close()\n"}
    nb = make_notebook(cells, header=header(endpoint, "team-bucket"))
    proc = strata("run", nb)
    assert proc.returncode == 2
    assert "s3://team-bucket/team/strata" in proc.stderr and "Traceback" not in proc.stderr
    assert "testing" not in proc.stderr  # the secret key from the environment
    assert not (nb / "ran").exists()
    # Looking still works: states come from the local cache (empty here), with no error.
    status = strata("status", nb)
    assert status.returncode == 0, status.stderr
    assert {c["state"] for c in json.loads(status.stdout)["cells"]} == {"never_run"}


def test_an_entry_whose_blob_is_missing_is_a_miss_not_a_crash(
    s3_server: S3Server, checkouts: tuple[Path, Path, str]
) -> None:
    a, b, bucket = checkouts
    first = run(a)
    fs = s3_server.filesystem()
    root = f"{bucket}/team/strata"
    total = json.loads(fs.cat(f"{root}/index/{first.cells[1].key}.json"))
    (digest,) = {v["digest"] for v in total["outputs"].values()}
    fs.rm(f"{root}/blobs/{digest}")
    fs.pipe(f"{root}/index/{first.cells[0].key}.json", b"{not json")  # damaged by hand
    second = run(b)
    assert [(c.id, c.status, c.cache_hit) for c in second.cells] == [
        ("load", "ok", False),
        ("total", "ok", False),
        ("leaf", "ok", True),
    ]
    assert outcome(second) == outcome(first)
    # Re-running repaired the remote: the blob and the entry are back.
    assert fs.info(f"{root}/blobs/{digest}")["size"] > 0
    assert json.loads(fs.cat(f"{root}/index/{first.cells[0].key}.json"))["cell_id"] == "load"


def test_a_failed_upload_stops_the_run_and_the_next_run_shares_it(
    s3_server: S3Server, make_notebook: NotebookFactory
) -> None:
    bucket = f"missing-{s3_server.new_bucket()}"  # does not exist yet: every PUT fails
    nb = make_notebook({"a": "x = 1\n"}, header=header(s3_server.endpoint_url, bucket))
    with Session(nb) as session, pytest.raises(StoreOpenError) as raised:
        session.run()
    message = str(raised.value)
    assert f"s3://{bucket}/team/strata" in message and "not shared yet" in message
    fs = s3_server.filesystem()
    fs.mkdir(bucket)
    report = run(nb)  # uploads what the first run kept, then serves it locally
    assert [(c.id, c.cache_hit) for c in report.cells] == [("a", True)]
    assert fs.ls(f"{bucket}/team/strata/index", detail=False) == [
        f"{bucket}/team/strata/index/{report.cells[0].key}.json"
    ]


def test_gc_evicts_only_the_local_cache(
    s3_server: S3Server, checkouts: tuple[Path, Path, str]
) -> None:
    a, b, bucket = checkouts
    run(a)
    run(b)
    fs = s3_server.filesystem()
    remote_before = sorted(fs.find(f"{bucket}/team/strata"))
    proc = strata("cache", "gc", b, "--max-size", "0")
    assert proc.returncode == 0, proc.stderr
    assert "removed 0 blobs" not in proc.stdout
    cache_blobs = [p for p in (b / ".strata" / "shared-cache").rglob("blobs/*/*") if p.is_file()]
    assert cache_blobs == []
    assert sorted(fs.find(f"{bucket}/team/strata")) == remote_before
    assert all(c.cache_hit for c in run(b).cells)  # fetched again through the cache


def test_credentials_in_cache_options_are_refused_without_echoing_them(
    make_notebook: NotebookFactory, s3_server: S3Server
) -> None:
    text = header(s3_server.endpoint_url, "b") + 'secret = "hunter2-value"\n'
    nb = make_notebook({"a": "x = 1\n"}, header=text)
    proc = strata("validate", nb, "--format", "json")
    assert proc.returncode == 1
    assert "store_unavailable" in proc.stdout and "hunter2-value" not in proc.stdout
    run_proc = strata("run", nb)
    assert run_proc.returncode == 2
    assert "[cache.options] secret" in run_proc.stderr
    assert "hunter2-value" not in run_proc.stderr
