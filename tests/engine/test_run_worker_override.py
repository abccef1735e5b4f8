"""`strata run --worker NAME`: execution context is configuration (issue [5]). The same
notebook runs locally without the flag and on a real `strata worker` with it, without
editing a cell; `@worker` and cell entries still win, and each place has its own keys."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import by_id, run_json, strata
from test_executor_e2e import SIDE, start_worker

from strata_engine.run.session import InvocationError, Session

WHERE = f"import os\nside = os.environ.get({SIDE!r}, 'engine')\n"
CELLS = {
    "load": 'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2, 3]})\n',
    # Names no worker: --worker places it.
    "total": WHERE + "total = int(df['a'].sum())\nprint(total, side)\n",
    # Names `local` itself: --worker must not move it.
    "pinned": "# @worker local\n" + WHERE.replace("side", "pinned_side") + "print(pinned_side)\n",
}


@pytest.fixture
def worker_url(tmp_path: Path) -> Iterator[str]:
    for _, url in start_worker(tmp_path / "worker-home"):
        yield url


def write(nb: Path, url: str, *, default_worker: str | None = None) -> Path:
    (nb / "cells").mkdir(parents=True, exist_ok=True)
    lines = ['notebook_id = "override"']
    if default_worker is not None:
        lines.append(f'worker = "{default_worker}"')
    lines += ["", "[[workers]]", 'name = "remote"', 'backend = "executor"']
    lines += ["[workers.config]", f'url = "{url}"', ""]
    for order, (ident, source) in enumerate(CELLS.items(), start=1):
        (nb / "cells" / f"{ident}.py").write_text(source)
        lines += ["[[cells]]", f'id = "{ident}"', f'file = "{ident}.py"']
        lines += ['language = "python"', f"order = {order}", ""]
    (nb / "notebook.toml").write_text("\n".join(lines))
    return nb


def keys(nb: Path, worker: str | None = None) -> dict[str, str | None]:
    with Session(nb, worker=worker) as session:
        return {cell_id: status.key for cell_id, status in session.states().items()}


def test_worker_flag_places_unnamed_cells_and_keys_each_place_apart(
    tmp_path: Path, worker_url: str
) -> None:
    nb = write(tmp_path / "nb", worker_url)

    code, report = run_json(nb, "--worker", "remote")
    cells = by_id(report)
    assert code == 0, report
    assert cells["total"]["stdout"] == "6 worker\n"
    assert cells["pinned"]["stdout"] == "engine\n"  # @worker local beats --worker

    code, report = run_json(nb)  # no flag: everything local, nothing reused from the worker
    cells = by_id(report)
    assert code == 0, report
    assert cells["total"]["stdout"] == "6 engine\n"
    assert cells["total"]["cache_hit"] is False and cells["load"]["cache_hit"] is False
    assert cells["pinned"]["cache_hit"] is True  # its placement did not change

    local, remote = keys(nb), keys(nb, "remote")
    assert local["total"] != remote["total"] and local["load"] != remote["load"]
    assert local["pinned"] == remote["pinned"]

    code, report = run_json(nb, "--worker", "remote")  # both places' results coexist
    assert code == 0 and all(cell["cache_hit"] for cell in report["cells"]), report

    # `strata status --worker NAME` answers for that place: the keys a run there uses.
    for flag, expected in (("remote", remote), (None, local)):
        proc = strata("status", nb, *(("--worker", flag) if flag else ()))
        assert proc.returncode == 0, proc.stderr
        cells = by_id(json.loads(proc.stdout))
        assert {ident: cell["key"] for ident, cell in cells.items()} == expected
        assert all(cell["state"] == "ready" for cell in cells.values()), cells
    bad = strata("status", nb, "--worker", "gpu")
    assert bad.returncode == 2 and "--worker 'gpu' is not declared" in bad.stderr


def test_worker_flag_beats_the_notebook_default(tmp_path: Path, worker_url: str) -> None:
    nb = write(tmp_path / "nb", worker_url, default_worker="remote")
    code, report = run_json(nb, "--worker", "local")
    assert code == 0, report
    assert by_id(report)["total"]["stdout"] == "6 engine\n"
    code, report = run_json(nb)  # the default puts it on the worker
    assert code == 0, report
    assert by_id(report)["total"]["stdout"] == "6 worker\n"


def test_unknown_worker_is_an_invocation_error_listing_the_declared_ones(
    tmp_path: Path,
) -> None:
    nb = write(tmp_path / "nb", "http://127.0.0.1:9")
    proc: subprocess.CompletedProcess[str] = strata("run", nb, "--worker", "gpu")
    assert proc.returncode == 2
    assert "--worker 'gpu' is not declared" in proc.stderr
    assert "declared workers: local, remote" in proc.stderr
    assert proc.stdout == ""
    with pytest.raises(InvocationError, match="declared workers: local, remote"):
        Session(nb, worker="gpu")
