"""An interpreter chosen in the editor for a notebook's cells ("Strata: Select Cell
Environment...", LSP `strata/setInterpreter`): any Python the user has, a conda env, a venv
the Python extension found. It takes precedence over the notebook's `.venv` and the engine's
own interpreter while this process runs (the editor sends it again after a restart).

Choosing runs the interpreter once, with the environment its cell processes get, to learn
its version, its `sys.executable` and site directories, and whether the cell harness can run
there (strata_engine plus xxhash, cloudpickle and pyarrow). It never installs into the
user's interpreter: what is missing is refused, naming the command that installs it.

Its fingerprint (part of every cell key) is its version, its executable and the
distributions installed in its site directories, listed again when one of them changes,
so a `pip install` there makes the cells stale as it does in a `.venv`.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from strata_engine.cache.provenance import digest_json
from strata_engine.envs import detect
from strata_engine.envs.detect import READY, Environment
from strata_engine.envs.errors import EnvironmentSyncError

INTERPRETER_KIND = "interpreter"
MINIMUM = (3, 11)
HARNESS_MODULES = ("strata_engine", "xxhash", "cloudpickle", "pyarrow")
"""What the cell process imports (see harness.py): checked with find_spec, nothing imported."""
PROBE_TIMEOUT_S = 30.0
_PROBE = """
import importlib.util, json, site, sys
sites = [p for p in [*getattr(site, "getsitepackages", lambda: [])(), site.getusersitepackages()]]
missing = []
for name in sys.argv[1:]:
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        missing.append(name)
print(json.dumps({"executable": sys.executable, "version": list(sys.version_info[:3]),
                  "sites": sites, "missing": missing}))
"""


@dataclass(frozen=True)
class Chosen:
    executable: str
    """`sys.executable` as the interpreter reports it."""
    version: str
    sites: tuple[str, ...]


_lock = threading.Lock()
_choices: dict[Path, Chosen] = {}
_listings: dict[tuple[str, ...], tuple[tuple[object, ...], str]] = {}


def choose(directory: Path, executable: str | None) -> Chosen | None:
    """Record `executable` for the notebook in `directory` (None: back to the default).
    Raises EnvironmentSyncError naming the interpreter and the fix when it cannot run cells."""
    directory = Path(os.path.abspath(directory))
    if executable is None:
        with _lock:
            _choices.pop(directory, None)
        detect.forget(directory)
        return None
    choice = probe(executable)
    with _lock:
        _choices[directory] = choice
    detect.forget(directory)  # memoized placements re-ask for their environment
    return choice


def chosen(directory: Path) -> Chosen | None:
    with _lock:
        return _choices.get(Path(os.path.abspath(directory)))


def environment(directory: Path) -> Environment | None:
    """The notebook's environment when an interpreter was chosen for it (detect.detect asks)."""
    choice = chosen(directory)
    if choice is None:
        return None
    return Environment(
        Path(os.path.abspath(directory)),
        INTERPRETER_KIND,
        fingerprint(choice),
        choice.version,
        choice.executable,
        READY,
    )


def fingerprint(choice: Chosen) -> str:
    return digest_json([INTERPRETER_KIND, choice.version, choice.executable, _installed(choice)])


def probe(executable: str) -> Chosen:
    """Run `executable` once (its own code only) to describe it; refuse what cannot run cells."""
    import subprocess  # here: a cached `strata run` never probes (subprocess costs ~4 ms)

    from strata_engine.backends.local.zygote_client import zygote_environment

    try:
        result = subprocess.run(
            [executable, "-c", _PROBE, *HARNESS_MODULES],
            env=zygote_environment(executable),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentSyncError(
            f"the chosen interpreter {executable} does not run: {exc}"
        ) from exc
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise EnvironmentSyncError(f"the chosen interpreter {executable} failed: {last[0]}")
    try:
        facts = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise EnvironmentSyncError(f"{executable} is not a Python interpreter") from exc
    version = tuple(int(part) for part in facts["version"])
    text = ".".join(map(str, version))
    if version < MINIMUM:
        raise EnvironmentSyncError(
            f"the chosen interpreter {executable} is Python {text}; Strata's cell harness needs "
            f">= {'.'.join(map(str, MINIMUM))}: choose another interpreter"
        )
    missing = [str(name) for name in facts["missing"]]
    if "strata_engine" in missing:
        raise EnvironmentSyncError(
            f"the chosen interpreter {executable} cannot import strata_engine (the cell harness); "
            "choose an interpreter on this machine, or the notebook's .venv"
        )
    if missing:
        raise EnvironmentSyncError(
            f"the chosen interpreter {executable} lacks {', '.join(missing)}, which Strata's "
            f"cell harness imports; install them there ({executable} -m pip install "
            f"{' '.join(missing)}) or choose another interpreter"
        )
    sites = tuple(str(site) for site in facts["sites"])
    return Chosen(str(facts["executable"]), text, sites)


def engine_link_dir() -> Path:
    """A directory holding only a link to this engine's `strata_engine` package, for the
    PYTHONPATH of another interpreter's cell processes when the engine is installed in a
    site-packages (putting that whole directory on another interpreter's path would mix
    installs). Per user, under the cache directory; re-pointed if the engine moved."""
    engine = Path(__file__).resolve().parent.parent
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = cache / "strata" / f"engine-{digest_json(str(engine))[:16]}"
    link = directory / "strata_engine"
    if link.is_symlink() and Path(os.readlink(link)) == engine:
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".strata_engine.{os.getpid()}.{threading.get_ident()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(engine, target_is_directory=True)
    os.replace(staging, link)
    return directory


def _installed(choice: Chosen) -> str:
    """Digest of the distributions in the interpreter's site directories, listed again only
    when one of the directories changed."""
    stamp = tuple(_mtime(site) for site in choice.sites)
    with _lock:
        cached = _listings.get(choice.sites)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    names: list[str] = []
    for site in choice.sites:
        try:
            names += [n for n in os.listdir(site) if n.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
    digest = digest_json(sorted(names))
    with _lock:
        _listings[choice.sites] = (stamp, digest)
    return digest


def _mtime(path: str) -> object:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
