"""strata/setInterpreter against the real server: a chosen interpreter becomes the notebook's
environment (strata/environment says so), the cells go stale with env_changed at once, a run
makes them ready, and null goes back to the default, whose entries are hits again. One the
cell harness cannot run in is refused with the engine's message, and nothing changes."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio
CELLS = {"who": "import sys\nexe = sys.executable\n", "after": "n = len(exe)\n"}


def make_venv(path: Path, *, with_engine_packages: bool) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    if with_engine_packages:
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        site = path / "lib" / version / "site-packages"
        (site / "_engine_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return path / "bin" / "python"


async def test_a_chosen_interpreter_is_the_notebooks_environment(
    lsp: Session, make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    directory = make_notebook(CELLS)
    python = make_venv(tmp_path / "other", with_engine_packages=True)
    lsp.open_notebook(directory, CELLS)
    await lsp.run_to_end(directory, "all")
    await lsp.state(directory, lambda c: c["after"]["state"] == "ready")
    request = lsp.client.protocol.send_request_async
    notebook = str(directory)

    mark = lsp.mark()
    answer = await request(
        "strata/setInterpreter", {"notebook": notebook, "executable": str(python)}
    )
    assert answer["ok"] is True, answer
    assert answer["executable"] == str(python)
    state = await lsp.state(directory, lambda c: c["who"]["state"] == "stale", after=mark)
    assert state["who"]["reasons"] == [{"reason": "env_changed"}]
    environment = await request("strata/environment", {"notebook": notebook})
    assert (environment["kind"], environment["executable"]) == ("interpreter", str(python))

    finished = await lsp.run_to_end(directory, "all")
    assert finished["success"] is True, finished
    assert [c["cellId"] for c in finished["cells"] if c["executed"]] == ["who", "after"]
    await lsp.state(directory, lambda c: c["after"]["state"] == "ready")

    mark = lsp.mark()
    answer = await request("strata/setInterpreter", {"notebook": notebook, "executable": None})
    assert answer == {"ok": True, "message": "the cells run in their default environment"}
    # The default environment's entries are still stored: ready again without running.
    await lsp.state(
        directory, lambda c: all(cell["state"] == "ready" for cell in c.values()), after=mark
    )
    environment = await request("strata/environment", {"notebook": notebook})
    assert environment["kind"] == "embedded"


async def test_an_interpreter_that_cannot_run_cells_is_refused(
    lsp: Session, make_notebook: NotebookFactory, tmp_path: Path
) -> None:
    directory = make_notebook(CELLS)
    python = make_venv(tmp_path / "bare", with_engine_packages=False)
    lsp.open_notebook(directory, CELLS)
    request = lsp.client.protocol.send_request_async
    answer = await request(
        "strata/setInterpreter", {"notebook": str(directory), "executable": str(python)}
    )
    assert answer["ok"] is False
    assert "lacks xxhash, cloudpickle, pyarrow" in answer["message"]
    assert f"{python} -m pip install" in answer["message"]
    environment = await request("strata/environment", {"notebook": str(directory)})
    assert environment["kind"] == "embedded"
