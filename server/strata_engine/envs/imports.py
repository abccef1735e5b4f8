"""Which imports a notebook's environment cannot resolve (`import_unresolved`), found
without running or importing anything.

- A venv: the top-level names in its site-packages (packages, modules, extension modules,
  each distribution's `top_level.txt`, directories named by `.pth` files) plus the standard
  library of the venv's Python (`sys.stdlib_module_names` when it is the engine's version,
  else a listing of that interpreter's lib directory). Nothing is reported while the venv
  does not exist yet: the environment's state says that.
- The embedded interpreter: `importlib.util.find_spec` on the top-level name only (finding
  a dotted name would import its parents).
- Modules beside the notebook (`helpers.py`, `pkg/`) resolve too: a cell runs there.

Answers are cached per environment (fingerprint plus the site directory's mtime), so the
check costs a set lookup per import on every keystroke. Resolvers are registered per cell
language; only Python's is built in.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from strata_engine.envs import detect

Resolver = Callable[[Path, tuple[str, ...]], tuple[str, ...]]
RESOLVERS: dict[str, Resolver] = {}
_lock = threading.Lock()
_site_memo: dict[tuple[str, object], frozenset[str]] = {}
_embedded_memo: dict[tuple[str, str], bool] = {}
_local_memo: dict[Path, tuple[object, frozenset[str]]] = {}


def register(language: str, resolver: Resolver) -> None:
    RESOLVERS[language] = resolver


def unresolved(directory: Path, language: str, modules: Iterable[str]) -> tuple[str, ...]:
    """The top-level modules in `modules` the notebook's environment cannot import."""
    names = tuple(dict.fromkeys(m for m in modules if m))
    resolver = RESOLVERS.get(language)
    if resolver is None or not names:
        return ()
    return resolver(Path(os.path.abspath(directory)), names)


def _python(directory: Path, modules: tuple[str, ...]) -> tuple[str, ...]:
    env = detect.detect(directory)
    if env.state == detect.MISSING:
        return ()
    local = _local_modules(directory)
    candidates = [m for m in modules if m not in local and m not in sys.builtin_module_names]
    if not candidates:
        return ()
    if env.kind == detect.EMBEDDED:
        return tuple(m for m in candidates if not _embedded_has(env.fingerprint, m))
    if env.venv is None:
        return ()  # an interpreter chosen in the editor (envs/chosen.py): not listed here
    known = _venv_modules(env)
    return tuple(m for m in candidates if m not in known)


def _embedded_has(fingerprint: str, module: str) -> bool:
    key = (fingerprint, module)
    with _lock:
        found = _embedded_memo.get(key)
    if found is None:
        try:
            found = module in sys.modules or importlib.util.find_spec(module) is not None
        except (ImportError, ValueError, AttributeError):
            found = False
        with _lock:
            _embedded_memo[key] = found
    return found


def _venv_modules(env: detect.Environment) -> frozenset[str]:
    venv = env.venv
    assert venv is not None
    site = detect.site_packages(venv, env.python)
    key = (env.fingerprint, _mtime(site))
    with _lock:
        known = _site_memo.get(key)
    if known is None:
        known = frozenset(_site_names(site)) | _stdlib(venv, env.python)
        with _lock:
            _site_memo[key] = known
    return known


def _site_names(site: Path) -> set[str]:
    names = set(_listing_names(site))
    for entry in _listdir(site):
        path = site / entry
        if entry.endswith((".dist-info", ".egg-info")):
            names |= _top_level(path)
        elif entry.endswith(".pth"):
            for extra in _pth_dirs(path):
                names |= set(_listing_names(extra))
    return names


def _listing_names(directory: Path) -> Iterable[str]:
    for entry in _listdir(directory):
        if entry.startswith(".") or entry.endswith((".dist-info", ".egg-info", ".pth")):
            continue
        stem = entry.split(".", 1)[0]
        module_like = entry.endswith((".py", ".pyc", ".so", ".pyd")) or "." not in entry
        if module_like and stem.isidentifier():
            yield stem


def _top_level(dist_info: Path) -> set[str]:
    try:
        text = (dist_info / "top_level.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {line.strip().split("/")[0] for line in text.splitlines() if line.strip()}


def _pth_dirs(pth: Path) -> list[Path]:
    try:
        lines = pth.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    base = pth.parent
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith(("#", "import ", "import\t")):
            candidate = Path(line) if os.path.isabs(line) else base / line
            if candidate.is_dir():
                out.append(candidate)
    return out


def _stdlib(venv: Path, version: str) -> frozenset[str]:
    major_minor = ".".join(version.split(".")[:2])
    if major_minor == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return frozenset(sys.stdlib_module_names)
    names = set(sys.builtin_module_names)
    home = _pyvenv_home(venv)
    if home is not None:
        lib = home.parent / "lib" / f"python{major_minor}"
        names |= set(_listing_names(lib)) | set(_listing_names(lib / "lib-dynload"))
    return frozenset(names - {"site-packages"})


def _pyvenv_home(venv: Path) -> Path | None:
    try:
        text = (venv / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "home":
            return Path(value.strip())
    return None


def _local_modules(directory: Path) -> frozenset[str]:
    stamp = _mtime(directory)
    with _lock:
        memo = _local_memo.get(directory)
    if memo is not None and memo[0] == stamp:
        return memo[1]
    names = frozenset(_listing_names(directory))
    with _lock:
        _local_memo[directory] = (stamp, names)
    return names


def _listdir(directory: Path) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def _mtime(path: Path) -> object:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


register("python", _python)
