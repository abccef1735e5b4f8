"""Which environment a notebook's cells run in (SPEC 7), found without running anything.

A notebook directory with `pyproject.toml` has its own environment: `.venv` beside it. Its
fingerprint is the digest of `uv.lock` (or, with no lock, of the distributions installed in
the venv), of the dependency tables of pyproject.toml (so an edited dependency list makes
every cell stale before anything re-locks) and of the venv's Python version. Without
pyproject.toml the cells run in the engine's own interpreter (the embedded default).

The answer is memoized per directory: the editor asks for every cell on every keystroke.
It is re-checked (a few `stat` calls; files are re-read only when their size or mtime
changed) at most once per `RECHECK_S`, and at once after `forget(directory)`, which the
session calls before it computes states or runs, and a sync calls when it is done.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strata_engine.cache.provenance import digest_json, digest_text, environment_fingerprint

PYPROJECT = "pyproject.toml"
LOCK = "uv.lock"
VENV = ".venv"
STAMP = ".strata-sync.json"
"""Written into the venv by a successful sync: what it was synced from."""
RECHECK_S = 1.0
READY, MISSING, OUT_OF_SYNC = "ready", "missing", "out_of_sync"
EMBEDDED, VENV_KIND = "embedded", "venv"
DEPENDENCY_TABLES = ("dependencies", "optional-dependencies", "requires-python")


@dataclass(frozen=True)
class Environment:
    """One notebook's environment as seen now."""

    directory: Path
    kind: str
    """VENV_KIND (the notebook has pyproject.toml) or EMBEDDED."""
    fingerprint: str
    python: str
    """The interpreter version ("3.11.7"); "" for a venv that does not exist yet."""
    executable: str
    """The interpreter cells run with (a venv's bin/python, even before it exists)."""
    state: str
    """READY, MISSING (no venv yet) or OUT_OF_SYNC (pyproject/lock/engine changed since the
    last sync, or the venv was not made by Strata)."""
    lock_hash: str | None = None
    requires_python: str | None = None
    dependencies_digest: str = ""
    pyproject_error: str | None = None

    @property
    def venv(self) -> Path | None:
        return self.directory / VENV if self.kind == VENV_KIND else None

    @property
    def has_pyproject(self) -> bool:
        return self.kind == VENV_KIND

    def to_json(self) -> dict[str, Any]:
        """The `strata/environment` payload (docs/lsp-protocol.md, "Environments")."""
        out: dict[str, Any] = {
            "notebook": str(self.directory),
            "kind": self.kind,
            "python": self.python,
            "executable": self.executable,
            "state": self.state,
            "hasPyproject": self.has_pyproject,
        }
        if self.venv is not None:
            out["path"] = str(self.venv)
        if self.lock_hash is not None:
            out["lockHash"] = self.lock_hash[:12]
        if self.pyproject_error is not None:
            out["error"] = self.pyproject_error
        return out


_lock = threading.Lock()
_memo: dict[Path, tuple[float, tuple[object, ...], Environment]] = {}
_file_memo: dict[Path, tuple[tuple[int, int], Any]] = {}


def detect(directory: Path) -> Environment:
    """The environment of the notebook in `directory` (memoized; see the module doc)."""
    directory = Path(os.path.abspath(directory))
    from strata_engine.envs import chosen  # an interpreter chosen in the editor wins

    picked = chosen.environment(directory)
    if picked is not None:
        return picked
    now = time.monotonic()
    with _lock:
        memo = _memo.get(directory)
    if memo is not None and now - memo[0] < RECHECK_S:
        return memo[2]
    stamp = _stat_stamp(directory)
    if memo is not None and memo[1] == stamp and memo[2].kind == VENV_KIND:
        environment = memo[2]
    else:
        environment = _detect(directory)
    with _lock:
        _memo[directory] = (now, stamp, environment)
    return environment


def generation() -> int:
    """Bumped by every `forget` and interpreter choice: a result memoized at one generation
    (a placement's environment) holds until the next."""
    return _generation[0]


_generation = [0]


def forget(directory: Path | None = None) -> None:
    """Re-check `directory` (every directory when None) on its next `detect`."""
    with _lock:
        _generation[0] += 1
        if directory is None:
            _memo.clear()
        else:
            _memo.pop(Path(os.path.abspath(directory)), None)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path, version: str) -> Path:
    major_minor = ".".join(version.split(".")[:2])
    return venv / "lib" / f"python{major_minor}" / "site-packages"


def venv_version(venv: Path) -> str:
    """The Python version pyvenv.cfg records ("" when there is no venv)."""
    config = _read_cached(venv / "pyvenv.cfg", _parse_pyvenv)
    if not isinstance(config, dict):
        return ""
    return str(config.get("version_info") or config.get("version") or "")


def read_stamp(venv: Path) -> dict[str, Any]:
    stamp = _read_cached(venv / STAMP, _parse_json)
    return stamp if isinstance(stamp, dict) else {}


def engine_package() -> Path:
    """The directory of the `strata_engine` package the harness must import in a venv."""
    return Path(__file__).resolve().parent.parent


# -- internals ----------------------------------------------------------------------------
def _stat_stamp(directory: Path) -> tuple[object, ...]:
    venv = directory / VENV
    paths = (directory / PYPROJECT, directory / LOCK, venv / "pyvenv.cfg", venv / STAMP)
    out: list[object] = [_file_stamp(p) for p in paths]
    if out[0] is not None and out[1] is None:  # no lock: the installed set is the identity
        version = venv_version(venv)
        if version:
            out.append(_file_stamp(site_packages(venv, version)))
    return tuple(out)


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def _detect(directory: Path) -> Environment:
    pyproject = _read_cached(directory / PYPROJECT, _parse_toml)
    if pyproject is None:
        return _embedded(directory)
    venv = directory / VENV
    error = pyproject if isinstance(pyproject, str) else None
    project = pyproject.get("project", {}) if isinstance(pyproject, dict) else {}
    project = project if isinstance(project, dict) else {}
    requires = project.get("requires-python")
    deps = digest_json(
        [
            [project.get(name) for name in DEPENDENCY_TABLES],
            pyproject.get("dependency-groups") if isinstance(pyproject, dict) else None,
            (pyproject.get("tool", {}) or {}).get("uv") if isinstance(pyproject, dict) else None,
            error,
        ]
    )
    lock = _read_cached(directory / LOCK, _hash_bytes)
    version = venv_version(venv)
    installed = None if lock is not None or not version else _installed(venv, version)
    fingerprint = digest_json(["venv", version or None, lock or installed, deps])
    state = _state(venv, version, lock, deps)
    return Environment(
        directory,
        VENV_KIND,
        fingerprint,
        version,
        str(venv_python(venv)),
        state,
        lock_hash=lock if isinstance(lock, str) else None,
        requires_python=requires if isinstance(requires, str) else None,
        dependencies_digest=deps,
        pyproject_error=error,
    )


def _embedded(directory: Path) -> Environment:
    version = ".".join(str(n) for n in sys.version_info[:3])
    return Environment(
        directory, EMBEDDED, environment_fingerprint(), version, sys.executable, READY
    )


def _state(venv: Path, version: str, lock: object, deps: str) -> str:
    if not version or not venv_python(venv).exists():
        return MISSING
    stamp = read_stamp(venv)
    link = venv / "strata-engine" / "strata_engine"
    if (
        stamp.get("lock") != lock
        or stamp.get("dependencies") != deps
        or stamp.get("engine") != str(engine_package())
        or not link.exists()
    ):
        return OUT_OF_SYNC
    return READY


def _installed(venv: Path, version: str) -> str:
    """With no lock: the distributions in the venv (names carry versions)."""
    try:
        names = os.listdir(site_packages(venv, version))
    except OSError:
        return digest_json([])
    return digest_json(sorted(n for n in names if n.endswith((".dist-info", ".egg-info"))))


def _read_cached(path: Path, parse: Any) -> Any:
    """`parse(bytes)` of the file, re-read only when its size or mtime changed (None when
    the file does not exist)."""
    stamp = _file_stamp(path)
    if stamp is None:
        return None
    with _lock:
        cached = _file_memo.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        data = path.read_bytes()
    except OSError:
        return None
    value = parse(data)
    with _lock:
        _file_memo[path] = (stamp, value)
    return value


def _parse_toml(data: bytes) -> dict[str, Any] | str:
    """The document, or the reason it does not parse (a sync reports uv's own message)."""
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return f"{PYPROJECT} does not parse: {exc}"


def _parse_pyvenv(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _parse_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _hash_bytes(data: bytes) -> str:
    return digest_text(data.decode("utf-8", "replace"))
