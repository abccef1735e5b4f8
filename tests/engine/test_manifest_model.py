"""The typed model of notebook.toml (model/manifest.py) and what reads it: defaults,
malformed blocks skipped by the model but reported by the checks, the artifact store's
location, mounts and runtime identity."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from strata_engine.analysis.snapshot import take_snapshot
from strata_engine.cache.provenance import digest_json
from strata_engine.cache.state import runtime_identity
from strata_engine.model.manifest import (
    ConnectionSpec,
    MountEntry,
    StoreSpec,
    VariantGroupSpec,
    WorkerSpec,
    parse_manifest_document,
)
from strata_engine.model.manifest_checks import check_manifest_text
from strata_engine.model.notebook import NotebookError, load_notebook
from strata_engine.model.saving import save_notebook

NotebookFactory = Callable[..., Path]

FULL = """notebook_id = "nb-1"
name = "Full"
worker = "gpu"
timeout = 120

[env]
REGION = "eu"
RETRIES = 3

[[workers]]
name = "gpu"
backend = "executor"
runtime_id = "cuda-12"

[workers.config]
url = "http://gpu:8000"

[[workers]]
name = "pool"
backend = "dask"

[workers.config]
scheduler = "tcp://s:8786"

[[mounts]]
name = "raw"
uri = "s3://bucket/raw"
mode = "rw"
pin = "v3"

[mounts.options]
anon = true

[connections.wh]
driver = "duckdb"
path = "wh.duckdb"

[connections.wh.auth]
token = "${WH_TOKEN}"

[connections.wh.options]
threads = 4

[[variant_group]]
group = "model"
active = "ridge"
mode = "sweep"

[ai]
model = "m"

[cache]
store = "../shared-artifacts"
max_size = "20GB"

[cache.options]
profile = "team"
"""


def parse(text: str) -> object:
    return parse_manifest_document(tomllib.loads(text))


def codes(text: str) -> list[str]:
    return [d.code for d in check_manifest_text(text)]


def test_every_table_is_typed() -> None:
    model = parse_manifest_document(tomllib.loads(FULL))
    assert (model.notebook_id, model.name) == ("nb-1", "Full")
    assert (model.default_worker, model.default_timeout) == ("gpu", 120.0)
    assert model.env == {"REGION": "eu", "RETRIES": "3"}
    gpu = WorkerSpec("gpu", "executor", "cuda-12", {"url": "http://gpu:8000"})
    assert model.workers == (gpu, WorkerSpec("pool", "dask", None, {"scheduler": "tcp://s:8786"}))
    assert model.worker("gpu") == gpu and model.worker("nope") is None
    assert model.mounts == (MountEntry("raw", "s3://bucket/raw", "rw", "v3", {"anon": True}),)
    assert model.connections == {
        "wh": ConnectionSpec(
            "wh", "duckdb", {"path": "wh.duckdb"}, {"token": "${WH_TOKEN}"}, {"threads": 4}
        )
    }
    assert model.store == StoreSpec("../shared-artifacts", "20GB", {"profile": "team"})
    assert model.variant_groups == (VariantGroupSpec("model", "ridge", "sweep"),)
    assert model.ai == {"model": "m"}
    assert (model.worker_names, model.mount_names, model.connection_names) == (
        ("gpu", "pool"),
        ("raw",),
        ("wh",),
    )


def test_defaults_of_an_empty_manifest() -> None:
    model = parse_manifest_document({})
    assert model.notebook_id is None and model.name is None
    assert model.default_worker is None and model.default_timeout is None
    assert model.workers == () and model.mounts == () and model.variant_groups == ()
    assert model.connections == {} and model.env == {} and model.ai == {}
    assert model.store == StoreSpec(None, None, {})


def test_entry_defaults() -> None:
    model = parse_manifest_document(
        tomllib.loads(
            '[[workers]]\nname = "w"\n[[mounts]]\nname = "m"\nuri = "file:///d"\n'
            '[[variant_group]]\ngroup = "g"\n[connections.c]\ndriver = "sqlite"\n'
        )
    )
    assert model.workers == (WorkerSpec("w", "local", None, {}),)
    assert model.mounts == (MountEntry("m", "file:///d", "ro", None, {}),)
    assert model.variant_groups == (VariantGroupSpec("g", None, "switch"),)
    assert model.connections["c"] == ConnectionSpec("c", "sqlite", {}, {}, {})


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf", "true", '"slow"', "1" + "0" * 400])
def test_an_invalid_default_timeout_reads_as_absent(value: str) -> None:
    model = parse_manifest_document(tomllib.loads(f"timeout = {value}"))
    assert model.default_timeout is None
    assert "timeout_not_numeric" in codes(f'notebook_id = "x"\ntimeout = {value}\n')


MALFORMED = """notebook_id = "x"
workers = [5, {backend = "local"}, {name = "ok"}]
mounts = ["m", {uri = "s3://b"}, {name = "d", uri = "s3://b", mode = "rx"}]
variant_group = [{mode = "sweep"}, {group = "g", mode = "swep"}]

[connections]
bare = "not a table"

[connections.nodriver]
path = "x.db"
"""


def test_malformed_blocks_are_skipped_by_the_model_but_reported() -> None:
    model = parse_manifest_document(tomllib.loads(MALFORMED))
    assert model.worker_names == ("ok",)
    # An invalid mode reads as the documented default; a nameless mount is skipped.
    assert model.mounts == (MountEntry("d", "s3://b", "ro", None, {}),)
    assert model.variant_groups == (VariantGroupSpec("g", None, "switch"),)
    # A driverless connection stays known (a cell naming it is not also "unknown").
    assert model.connection_names == ("nodriver",)
    assert model.connections["nodriver"].driver is None
    found = codes(MALFORMED)
    assert found.count("worker_malformed") == 3  # not a table, no name, no backend
    assert "mount_mode_invalid" in found and "mount_uri_unsupported" in found
    assert found.count("connection_malformed") == 2
    assert "variant_malformed" in found and "variant_mode_invalid" in found


def test_malformed_blocks_survive_a_save(make_notebook: NotebookFactory) -> None:
    directory = make_notebook({"a": "x = 1"}, header=MALFORMED.split("\n", 1)[1])
    notebook = load_notebook(directory)
    notebook.cells[0].order = 5.0  # a structural edit, so the manifest is rewritten
    assert save_notebook(notebook)
    document = tomllib.loads((directory / "notebook.toml").read_text())
    assert document["workers"][0] == 5 and document["mounts"][0] == "m"
    assert document["connections"]["bare"] == "not a table"
    assert notebook.manifest.worker_names == ("ok",)


def test_save_keeps_the_model_in_step_with_the_document(make_notebook: NotebookFactory) -> None:
    directory = make_notebook({"a": "x = 1"}, header='worker = "w"')
    notebook = load_notebook(directory)
    assert notebook.default_worker == "w"
    notebook.document["worker"] = "other"
    save_notebook(notebook)
    assert notebook.manifest.default_worker == "other" == notebook.default_worker


def test_the_model_does_not_follow_later_edits_of_the_raw_document() -> None:
    document = tomllib.loads('[[workers]]\nname = "w"\n[workers.config]\nurl = "a"\n')
    model = parse_manifest_document(document)
    document["workers"][0]["config"]["url"] = "b"
    assert model.workers[0].config == {"url": "a"}


# -- the artifact store ----------------------------------------------------------------------
def test_default_store_location(make_notebook: NotebookFactory) -> None:
    notebook = load_notebook(make_notebook({"a": "x = 1"}, header=""))
    assert notebook.store_root == notebook.directory / ".strata" / "artifacts"
    assert notebook.store_location == str(notebook.store_root)


def test_a_relative_store_is_relative_to_the_notebook(
    tmp_path: Path, make_notebook: NotebookFactory
) -> None:
    notebook = load_notebook(make_notebook({"a": "x = 1"}, header='[cache]\nstore = "../shared"'))
    assert notebook.store_root == (tmp_path / "shared").resolve()
    assert notebook.store_location == str((tmp_path / "shared").resolve())


def test_a_shared_store_is_refused_clearly_not_ignored(make_notebook: NotebookFactory) -> None:
    notebook = load_notebook(
        make_notebook({"a": "x = 1"}, header='[cache]\nstore = "s3://team/strata"')
    )
    assert notebook.store_location == "s3://team/strata"
    with pytest.raises(
        NotebookError, match=r"shared stores \(s3://...\) are not available"
    ) as raised:
        _ = notebook.store_root
    assert "s3://team/strata" in str(raised.value) and ".strata/artifacts" in str(raised.value)
    # s3fs is installed here: validate accepts the store (gs:// without gcsfs is refused).
    assert not [d for d in check_manifest_text(notebook.manifest_text or "") if d.severity]
    gs_text = (notebook.manifest_text or "").replace("s3://team/strata", "gs://team/strata")
    (diag,) = [d for d in check_manifest_text(gs_text) if d.severity]
    assert diag.code == "store_unavailable" and diag.severity == "error"
    assert "pip install 'strata-vscode-server[gcs]'" in diag.message and diag.line is not None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('cache = "x"', "not a table"),
        ("[cache]\nstore = 5", "not a path or URI"),
        ('[cache]\nstore = ""', "not a path or URI"),
        ('[cache]\nstore = "a\\u0000b"', "not a usable path"),
    ],
)
def test_an_unusable_cache_table_is_a_clear_error(
    make_notebook: NotebookFactory, header: str, expected: str
) -> None:
    notebook = load_notebook(make_notebook({"a": "x = 1"}, header=header))
    for read in ("store_root", "store_location"):
        with pytest.raises(NotebookError, match=expected):
            getattr(notebook, read)


@pytest.mark.parametrize(("header", "line"), [('cache = "x"', 2), ("[cache]\nstore = 5", 3)])
def test_an_unusable_cache_table_is_a_diagnostic_on_its_line(header: str, line: int) -> None:
    found = list(check_manifest_text(f'notebook_id = "x"\n{header}\n'))
    assert [d.code for d in found] == ["store_unavailable"]
    assert found[0].line == line


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('cache = "x"', "not a table"),
        ('[cache]\nstore = "gs://team/strata"', "needs the gcsfs package"),
    ],
)
def test_the_cli_refuses_an_unusable_store_with_exit_2_and_creates_nothing(
    make_notebook: NotebookFactory, header: str, expected: str
) -> None:
    directory = make_notebook({"a": "x = 1"}, header=header)
    for command in ("status", "run"):
        proc = subprocess.run(
            [sys.executable, "-m", "strata_engine.cli", command, str(directory)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert not (directory / ".strata").exists()


# -- readers of the model --------------------------------------------------------------------
def test_runtime_identity_from_runtime_id_or_backend_name_and_config(
    make_notebook: NotebookFactory,
) -> None:
    header = (
        '[[workers]]\nname = "pinned"\nbackend = "executor"\nruntime_id = "cuda-12"\n'
        '[workers.config]\nurl = "http://h"\n'
        '[[workers]]\nname = "plain"\nbackend = "executor"\n[workers.config]\nurl = "http://h"\n'
    )
    cells = {"a": "# @worker pinned\nx = 1", "b": "# @worker plain\ny = 2", "c": "z = 3"}
    cells["d"] = "# @worker ghost\nw = 4"
    snapshot = take_snapshot(load_notebook(make_notebook(cells, header=header)))
    identity = {
        cell_id: runtime_identity(snapshot, view) for cell_id, view in snapshot.cells.items()
    }
    assert identity["a"] == "cuda-12"
    # Digested exactly as the raw TOML table was, so keys stored before the model stay valid.
    assert identity["b"] == digest_json(["executor", "plain", {"url": "http://h"}])
    assert identity["c"] == "local"
    assert identity["d"] == "unknown:ghost"


def test_snapshot_mounts_come_from_the_model(make_notebook: NotebookFactory) -> None:
    header = (
        '[[mounts]]\nname = "raw"\nuri = "s3://b/raw"\n'
        '[[mounts]]\nname = "out"\nuri = "s3://b/out"\nmode = "rw"\n'
        '[[mounts]]\nuri = "s3://nameless"\n'
    )
    cells = {"a": "# @mount out s3://b/other ro\nx = 1", "b": "y = (raw, out)", "c": "z = 3"}
    snapshot = take_snapshot(load_notebook(make_notebook(cells, header=header)))
    a, b = snapshot.cells["a"], snapshot.cells["b"]
    assert [(m.name, m.uri, m.mode) for m in snapshot.mounts(b)] == [
        ("out", "s3://b/out", "rw"),
        ("raw", "s3://b/raw", "ro"),
    ]
    # The annotation replaces the notebook entry; `raw` is not read, so not a's mount.
    assert [(m.name, m.uri, m.mode) for m in snapshot.mounts(a)] == [("out", "s3://b/other", "ro")]
    assert snapshot.mounts(snapshot.cells["c"]) == []  # a cell that reads no mount has none
