"""An interpreter chosen for a notebook's cells (envs/chosen.py, LSP strata/setInterpreter):
the cells run in it, its fingerprint enters every key (the cells go stale with env_changed,
and back to cache hits when the default is chosen again), and an interpreter the cell harness
cannot run in is refused naming what is missing and how to install it."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import write_notebook

from strata_engine import envs
from strata_engine.envs import chosen
from strata_engine.envs.errors import EnvironmentSyncError
from strata_engine.run.session import Session


def make_venv(path: Path, *, with_engine_packages: bool) -> Path:
    """A real venv of this Python (no pip: fast). With the engine's packages it sees this
    environment's site-packages through a .pth, as a user's env with pyarrow etc. would."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    if with_engine_packages:
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        site = path / "lib" / version / "site-packages"
        (site / "_engine_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture
def forget_choices() -> Iterator[Callable[[Path], None]]:
    chosen_dirs: list[Path] = []
    yield chosen_dirs.append
    for directory in chosen_dirs:
        chosen.choose(directory, None)
        envs.forget(directory)


def test_cells_run_in_the_chosen_interpreter_and_its_fingerprint_enters_the_keys(
    tmp_path: Path,
    open_session: Callable[[Path], Session],
    forget_choices: Callable[[Path], None],
) -> None:
    nb = write_notebook(tmp_path / "nb", {"who": "import sys\nexe = sys.executable\nprint(exe)\n"})
    forget_choices(nb)
    python = make_venv(tmp_path / "other", with_engine_packages=True)
    session = open_session(nb)
    first = session.run("all")
    assert first.success
    assert first.cells[0].stdout.strip() == sys.executable
    first_env = envs.environment_info(nb).fingerprint

    choice = chosen.choose(nb, str(python))
    assert choice is not None and choice.executable == str(python)
    env = envs.environment_info(nb)
    assert (env.kind, env.executable, env.state) == ("interpreter", str(python), "ready")
    states = session.states()
    assert states["who"].state == "stale"
    assert [r.kind for r in states["who"].reasons] == ["env_changed"]

    second = session.run("all")
    assert second.success, second.cells[0].error
    assert not second.cells[0].cache_hit
    assert second.cells[0].stdout.strip() == str(python)

    chosen.choose(nb, None)  # back to the default: its entry is still in the store
    envs.forget(nb)
    assert envs.environment_info(nb).kind == "embedded"
    third = session.run("all")
    assert third.cells[0].stdout.strip() == sys.executable
    # A hit, unless the engine's own environment really changed meanwhile (the full suite
    # once saw that in CI); the key then follows the environment, as it must.
    same_env = envs.environment_info(nb).fingerprint == first_env
    assert third.cells[0].cache_hit == same_env, (first_env, envs.environment_info(nb))
    assert third.cells[0].key == first.cells[0].key or not same_env


def test_an_install_into_the_chosen_interpreter_changes_its_fingerprint(
    tmp_path: Path, forget_choices: Callable[[Path], None]
) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "x = 1\n"})
    forget_choices(nb)
    python = make_venv(tmp_path / "other", with_engine_packages=True)
    choice = chosen.choose(nb, str(python))
    assert choice is not None
    before = chosen.fingerprint(choice)
    site = next(Path(s) for s in choice.sites if Path(s).is_dir())
    (site / "newpkg-1.0.dist-info").mkdir()
    assert chosen.fingerprint(choice) != before


def test_an_interpreter_without_the_harness_packages_is_refused_naming_them(
    tmp_path: Path, forget_choices: Callable[[Path], None]
) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "x = 1\n"})
    forget_choices(nb)
    python = make_venv(tmp_path / "bare", with_engine_packages=False)
    with pytest.raises(EnvironmentSyncError) as caught:
        chosen.choose(nb, str(python))
    message = str(caught.value)
    assert str(python) in message
    assert "xxhash, cloudpickle, pyarrow" in message
    assert f"{python} -m pip install xxhash cloudpickle pyarrow" in message
    assert chosen.chosen(nb) is None
    assert envs.environment_info(nb).kind == "embedded"


def test_a_path_that_is_not_an_interpreter_is_refused(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "nb", {"a": "x = 1\n"})
    with pytest.raises(EnvironmentSyncError, match="does not run"):
        chosen.choose(nb, str(tmp_path / "no-such-python"))
    script = tmp_path / "not-python"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    with pytest.raises(EnvironmentSyncError, match="not a Python interpreter"):
        chosen.choose(nb, str(script))


def test_the_engine_link_exposes_only_strata_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    directory = chosen.engine_link_dir()
    assert [p.name for p in directory.iterdir()] == ["strata_engine"]
    assert (directory / "strata_engine" / "__init__.py").is_file()
    assert chosen.engine_link_dir() == directory  # reused
