"""`# @worker remote` end to end: `strata run` sends the cell to a real `strata worker`
process on loopback (SPEC 13), local cells downstream read what it returns, a re-run is a
cache hit, and a stopped worker fails the cell by name without ever running it locally."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import by_id, run_json

SIDE = "STRATA_E2E_SIDE"


TOKEN_VAR = "STRATA_E2E_TOKEN"


def start_worker(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    home.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "strata_engine.cli", "worker", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=home,
        # Only the worker's cells see SIDE: it tells where a cell really ran.
        env={**os.environ, SIDE: "worker", **(env or {})},
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once it listens
    assert line.startswith("strata worker listening on http://"), line
    try:
        yield process, line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def worker_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    yield from start_worker(tmp_path / "worker-home")


@pytest.fixture
def guarded_worker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    yield from start_worker(
        tmp_path / "guarded-home", "--token-env", TOKEN_VAR, env={TOKEN_VAR: "right-token"}
    )


def write(nb: Path, url: str, remote_source: str, token_env: str | None = None) -> None:
    cells = {
        "load": 'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2, 3]})\n',
        "remote": remote_source,
        "use": "result = total * 10\nrows = len(doubled)\nprint(result, rows, side)\n",
    }
    (nb / "cells").mkdir(parents=True, exist_ok=True)
    lines = [
        'notebook_id = "remote-e2e"',
        "",
        "[[workers]]",
        'name = "remote"',
        'backend = "executor"',
        "[workers.config]",
        f'url = "{url}"',
        f'token_env = "{token_env}"' if token_env else "",
        "",
    ]
    for order, (ident, source) in enumerate(cells.items(), start=1):
        (nb / "cells" / f"{ident}.py").write_text(source)
        lines += ["[[cells]]", f'id = "{ident}"', f'file = "{ident}.py"']
        lines += ['language = "python"', f"order = {order}", ""]
    (nb / "notebook.toml").write_text("\n".join(lines))


REMOTE = (
    "# @worker remote\n"
    "import os\n"
    "total = int(df['a'].sum())\n"
    "doubled = df.assign(b=df['a'] * 2)\n"
    f"side = os.environ.get({SIDE!r}, 'engine')\n"
    "print('remote', total)\n"
)


def test_remote_cell_runs_on_the_worker_and_fails_by_name_without_it(
    tmp_path: Path, worker_process: tuple[subprocess.Popen[str], str]
) -> None:
    process, url = worker_process
    nb = tmp_path / "nb"
    write(nb, url, REMOTE)

    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 0, report
    assert cells["remote"]["status"] == "ok" and cells["remote"]["stdout"] == "remote 6\n"
    assert cells["use"]["stdout"] == "60 3 worker\n"  # the DataFrame came back as Arrow

    code, report = run_json(nb)
    assert code == 0
    assert all(cell["cache_hit"] for cell in report["cells"]), report

    process.terminate()
    process.wait(timeout=30)
    marker = tmp_path / "ran-locally.txt"
    write(nb, url, REMOTE + f"open({str(marker)!r}, 'w').write('ran')\n")
    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 1
    assert cells["load"]["cache_hit"] is True
    assert cells["remote"]["status"] == "error"
    assert f"worker 'remote' at {url} is unreachable" in cells["remote"]["error"]
    assert cells["use"]["status"] == "skipped"
    assert not marker.exists()


def test_the_token_comes_from_the_variable_token_env_names(
    tmp_path: Path,
    guarded_worker: tuple[subprocess.Popen[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, url = guarded_worker
    nb = tmp_path / "nb"
    write(nb, url, REMOTE, token_env=TOKEN_VAR)
    monkeypatch.setenv(TOKEN_VAR, "wrong-token")
    code, report = run_json(nb)
    remote = by_id(report)["remote"]
    assert code == 1
    assert f"worker 'remote' at {url} refused the request as unauthorized (401)" in remote["error"]
    assert f"check the token in ${TOKEN_VAR}" in remote["error"]
    assert "wrong-token" not in str(report)

    monkeypatch.setenv(TOKEN_VAR, "right-token")
    code, report = run_json(nb)
    assert code == 0, report
    assert by_id(report)["use"]["stdout"] == "60 3 worker\n"
