"""s3:// mounts against a real S3 endpoint on loopback (moto server): objects are fetched
lazily into the notebook's mount cache and reused across runs, a changed object makes the
reader stale, rw uploads only on success, and a `strata worker` reads an s3 mount itself."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import write_notebook
from s3_server import S3Server
from test_cli import by_id, run_json
from test_executor_e2e import start_worker
from test_mounts import fresh_states, run

from strata_engine.run.session import Session

Opener = Callable[[Path], Session]


def s3_header(s3: S3Server, name: str, uri: str, mode: str = "ro") -> str:
    return (
        f'[[mounts]]\nname = "{name}"\nuri = "{uri}"\nmode = "{mode}"\n'
        f"[mounts.options]\n{s3.options_toml()}"
    )


def cached_copies(nb: Path) -> dict[str, os.stat_result]:
    root = nb / ".strata" / "mounts"
    return {
        str(p.relative_to(root)).split("/", 2)[2]: p.stat()
        for p in root.glob("*/files/**/*")
        if p.is_file()
    }


def test_objects_are_fetched_lazily_and_reused_across_runs(
    tmp_path: Path, s3_server: S3Server, open_session: Opener
) -> None:
    fs = s3_server.filesystem()
    bucket = s3_server.new_bucket()
    fs.pipe(f"{bucket}/data/a.csv", b"x\n1\n2\n")
    fs.pipe(f"{bucket}/data/big/b.bin", b"\0" * 4096)
    source = (
        "# @nocache\n"
        "import pathlib, pandas as pd\n"
        "print(isinstance(raw, pathlib.Path), int(pd.read_csv(raw / 'a.csv')['x'].sum()))\n"
        "print(sorted(p.name for p in raw.iterdir()), (raw / 'big' / 'b.bin').exists())\n"
    )
    nb = write_notebook(
        tmp_path / "nb",
        {"reads": source},
        header=s3_header(s3_server, "raw", f"s3://{bucket}/data"),
    )
    session = open_session(nb)
    first = run(session)["reads"]
    assert first.status == "ok", first.error
    assert first.stdout == "True 3\n['a.csv', 'big'] True\n"
    copies = cached_copies(nb)
    assert list(copies) == ["a.csv"]  # listed, never fetched: big/b.bin

    second = run(session)["reads"]
    assert second.executed and second.status == "ok"
    again = cached_copies(nb)
    # The same file, not fetched again: same inode, same modification time.
    assert (again["a.csv"].st_ino, again["a.csv"].st_mtime_ns) == (
        copies["a.csv"].st_ino,
        copies["a.csv"].st_mtime_ns,
    )


def test_a_changed_object_makes_the_reader_stale(
    tmp_path: Path, s3_server: S3Server, open_session: Opener
) -> None:
    fs = s3_server.filesystem()
    bucket = s3_server.new_bucket()
    fs.pipe(f"{bucket}/in/a.txt", b"one")
    cells = {"reads": "text = (raw / 'a.txt').read_text()\nprint(text)\n", "other": "y = 2\n"}
    nb = write_notebook(
        tmp_path / "nb", cells, header=s3_header(s3_server, "raw", f"s3://{bucket}/in")
    )
    session = open_session(nb)
    assert run(session)["reads"].stdout == "one\n"
    assert run(session)["reads"].cache_hit
    fs.pipe(f"{bucket}/in/a.txt", b"two!")
    states = fresh_states(session)
    assert [r.kind for r in states["reads"].reasons] == ["mount_changed"]
    assert states["other"].state == "ready"
    again = run(session)
    assert again["reads"].executed and again["reads"].stdout == "two!\n"
    assert again["other"].cache_hit


def test_read_write_uploads_only_when_the_cell_succeeds(
    tmp_path: Path, s3_server: S3Server, open_session: Opener
) -> None:
    fs = s3_server.filesystem()
    bucket = s3_server.new_bucket()
    fs.pipe(f"{bucket}/out/existing.txt", b"kept")
    flag = tmp_path / "fail"
    source = (
        "import os\n"
        "(out / 'result.txt').write_text('written by the cell')\n"
        "print((out / 'existing.txt').read_text())\n"
        f"if os.path.exists({str(flag)!r}):\n"
        "    raise ValueError('failed after writing')\n"
    )
    nb = write_notebook(
        tmp_path / "nb",
        {"w": source},
        header=s3_header(s3_server, "out", f"s3://{bucket}/out", "rw"),
    )
    session = open_session(nb)
    flag.touch()
    failed = run(session)["w"]
    assert failed.status == "error" and "failed after writing" in (failed.error or "")
    fs.invalidate_cache()
    assert fs.find(f"{bucket}/out") == [f"{bucket}/out/existing.txt"]

    flag.unlink()
    ok = run(session)["w"]
    assert ok.status == "ok", ok.error
    assert ok.stdout == "kept\n"
    fs.invalidate_cache()
    assert fs.cat(f"{bucket}/out/result.txt") == b"written by the cell"
    assert fs.cat(f"{bucket}/out/existing.txt") == b"kept"  # read, not changed: not re-sent
    assert not run(session)["w"].cache_hit


def test_a_missing_package_names_the_extra_to_install(tmp_path: Path, open_session: Opener) -> None:
    pytest.importorskip("s3fs")
    import importlib.util

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    header = '[[mounts]]\nname = "g"\nuri = "gs://bucket/x"\n'
    nb = write_notebook(tmp_path / "nb", {"reads": "print(g)\n"}, header=header)
    cell = run(open_session(nb))["reads"]
    assert cell.status == "error"
    assert "pip install 'strata-vscode-server[gcs]'" in (cell.error or "")


@pytest.fixture
def worker_url(tmp_path: Path, s3_server: S3Server) -> Iterator[str]:
    # The worker inherits the fixture's AWS_* variables: its own credentials, never sent.
    cache = tmp_path / "worker-cache"
    for _, url in start_worker(tmp_path / "worker-home", env={"STRATA_MOUNT_CACHE": str(cache)}):
        yield url


def worker_notebook(nb: Path, url: str, source: str, header: str) -> None:
    header = (
        f'{header}\n[[workers]]\nname = "remote"\nbackend = "executor"\n'
        f'[workers.config]\nurl = "{url}"\n'
    )
    write_notebook(nb, {"remote": "# @worker remote\n" + source}, header=header)


def test_a_strata_worker_reads_an_s3_mount(
    tmp_path: Path, s3_server: S3Server, worker_url: str
) -> None:
    fs = s3_server.filesystem()
    bucket = s3_server.new_bucket()
    fs.pipe(f"{bucket}/d/n.txt", b"41")
    source = (
        "import os\n"
        "value = int((raw / 'n.txt').read_text()) + 1\n"
        "print(value, os.environ.get('STRATA_E2E_SIDE'))\n"
    )
    nb = tmp_path / "nb"
    worker_notebook(nb, worker_url, source, s3_header(s3_server, "raw", f"s3://{bucket}/d"))
    code, report = run_json(nb)
    assert code == 0, report
    assert by_id(report)["remote"]["stdout"] == "42 worker\n"
    # The worker kept its copy in its own cache, not under the notebook.
    assert list((tmp_path / "worker-cache").glob("*/files/n.txt"))
    assert not (nb / ".strata" / "mounts").exists()


def test_a_file_mount_is_never_sent_to_a_worker(tmp_path: Path, worker_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    marker = tmp_path / "ran.txt"
    header = f'[[mounts]]\nname = "data"\nuri = "file://{data}"\n'
    source = f"open({str(marker)!r}, 'w').write(str(data))\n"
    nb = tmp_path / "nb"
    worker_notebook(nb, worker_url, source, header)
    code, report = run_json(nb)
    remote = by_id(report)["remote"]
    assert code == 1 and remote["status"] == "error"
    assert f"worker 'remote' at {worker_url} cannot mount 'data'" in remote["error"]
    assert "never given a local path" in remote["error"]
    assert not marker.exists()


def test_the_worker_refuses_a_file_mount_with_400_naming_it(
    tmp_path: Path, worker_url: str
) -> None:
    import json
    import urllib.error
    import urllib.request

    boundary = "b0undary"
    metadata = {
        "protocol_version": "v1",
        "transform": {
            "ref": "notebook_cell@v1",
            "params": {"source": "x = 1", "mounts": [{"name": "data", "uri": "file:///etc"}]},
        },
        "inputs": [],
    }
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"; '
        f'filename="m.json"\r\nContent-Type: application/json\r\n\r\n'
        f"{json.dumps(metadata)}\r\n--{boundary}--\r\n"
    ).encode()
    request = urllib.request.Request(
        f"{worker_url}/v1/execute",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 400
    detail = json.loads(info.value.read())["detail"]
    assert "'data'" in detail and "file://" in detail


def test_a_dask_task_reads_an_s3_mount(
    tmp_path: Path,
    s3_server: S3Server,
    open_session: Opener,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    distributed = pytest.importorskip("distributed")
    from strata_engine.backends.dask import task

    monkeypatch.setenv("STRATA_MOUNT_CACHE", str(tmp_path / "dask-cache"))
    # The in-process dask worker below reuses this process's warm task runner, whose cell
    # process may predate this test's environment (the mount cache, the S3 credentials):
    # start from a fresh one, as a new dask worker process would.
    if task._runner is not None:
        task._runner.close()
        task._runner = None  # not monkeypatch: restoring a closed runner breaks later tests
    fs = s3_server.filesystem()
    bucket = s3_server.new_bucket()
    fs.pipe(f"{bucket}/d/n.txt", b"9")
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        header = s3_header(s3_server, "raw", f"s3://{bucket}/d") + (
            f'\n[[workers]]\nname = "cluster"\nbackend = "dask"\n'
            f'[workers.config]\nscheduler = "{cluster.scheduler_address}"\n'
        )
        source = "# @worker cluster\nvalue = int((raw / 'n.txt').read_text()) * 2\nprint(value)\n"
        nb = write_notebook(tmp_path / "nb", {"remote": source}, header=header)
        cell = run(open_session(nb))["remote"]
    finally:
        cluster.close()
        if task._runner is not None:  # built with this test's environment: drop it
            task._runner.close()
            task._runner = None
    assert cell.status == "ok", cell.error
    assert cell.stdout == "18\n"
    assert list((tmp_path / "dask-cache").glob("*/files/n.txt"))


def test_the_executor_request_sends_mounts_without_secrets_or_local_paths(
    tmp_path: Path,
) -> None:
    import json

    from conftest import make_job

    from strata_engine.backends.executor.request import ExecuteRequest
    from strata_engine.mounts.spec import JobMount
    from strata_engine.store import BlobStore

    options = {"endpoint_url": "http://127.0.0.1:9", "anon": False, "secret": "x", "key": "k"}
    mount = JobMount("raw", "s3://b/raw", "ro", options, cache=str(tmp_path / "cache"))
    job = make_job(tmp_path, "x = raw", mounts=(mount,))
    request = ExecuteRequest(job, BlobStore(tmp_path / "store"))
    body = b"".join(request.chunks())
    start = body.index(b"{")
    metadata = json.loads(body[start : body.index(b"\r\n", start)])
    assert metadata["transform"]["params"]["mounts"] == [
        {
            "name": "raw",
            "uri": "s3://b/raw",
            "mode": "ro",
            "options": {"endpoint_url": "http://127.0.0.1:9", "anon": False},
        }
    ]
    assert str(tmp_path / "cache") not in body.decode()
