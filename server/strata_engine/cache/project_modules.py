"""The project's own modules a cell imports are part of its key (an extension of SPEC 6).

A cell runs with the notebook directory on `sys.path`, so `from lib.geometry import area`
may load `lib/geometry.py` of the project (where `strata promote` puts a cell's functions).
The environment fingerprint covers installed packages, not these files: without this probe,
editing the module would leave the importing cell served from the cache with the old code.

Each module file under the notebook directory that the cell imports, directly or through
other project modules (package `__init__.py` files included, relative imports followed), is
one external item `("module NAME", content digest)`; a changed file makes the cell stale as
`data_changed` naming the module. Found statically, never by importing anything.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import xxhash

if TYPE_CHECKING:
    from strata_engine.analysis.snapshot import CellView, Snapshot

_MAX_MODULES = 500
"""A bound on the closure: a project this large is a package to install, not a folder."""

_lock = threading.Lock()
_digests: dict[Path, tuple[tuple[int, int], str, tuple[str, ...]]] = {}
"""Per module file: (size, mtime_ns) -> (content digest, the modules it imports)."""


def project_module_items(snapshot: Snapshot, view: CellView) -> list[tuple[str, str]]:
    root = snapshot.notebook.directory
    if not any(top_level_module(root, top) for top in view.analysis.imports):
        return []  # the common case: only installed packages; no parse needed
    try:
        imported = _imported_modules(view.analysis.normalized, package=None)
    except SyntaxError:
        return []
    found = _closure(root, imported)
    return [(f"module {name}", digest) for name, digest in sorted(found.items())]


def top_level_module(root: Path, top: str) -> bool:
    """Whether `import top` in a cell finds a module or package of the project at `root`."""
    return (root / f"{top}.py").is_file() or (root / top / "__init__.py").is_file()


def _closure(root: Path, start: list[str]) -> dict[str, str]:
    """Every project module reachable from `start`, with its content digest."""
    found: dict[str, str] = {}
    pending = list(start)
    while pending and len(found) < _MAX_MODULES:
        name = pending.pop()
        if name in found:
            continue
        for candidate in _parents_and_self(name):
            if candidate in found:
                continue
            resolved = _module_file(root, candidate)
            if resolved is None:
                continue
            path, is_package = resolved
            digest, imports = _fingerprint(path, candidate if is_package else _parent(candidate))
            found[candidate] = digest
            pending += imports
    return found


def _parents_and_self(name: str) -> list[str]:
    """`a.b.c` -> a, a.b, a.b.c: importing a submodule runs its packages' `__init__` first."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def _module_file(root: Path, name: str) -> tuple[Path, bool] | None:
    if not name or any(not part.isidentifier() for part in name.split(".")):
        return None
    base = root.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py", True
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py"), False
    return None


def _fingerprint(path: Path, package: str) -> tuple[str, list[str]]:
    try:
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        with _lock:
            known = _digests.get(path)
        if known is not None and known[0] == stamp:
            return known[1], list(known[2])
        data = path.read_bytes()
    except OSError:
        return "unreadable", []
    try:
        imports = tuple(_imported_modules(data, package=package))
    except (SyntaxError, ValueError):
        imports = ()  # the cell fails importing it; the digest still follows the file
    digest = xxhash.xxh3_128_hexdigest(data)
    with _lock:
        _digests[path] = (stamp, digest, imports)
    return digest, list(imports)


def _imported_modules(source: str | bytes, *, package: str | None) -> list[str]:
    """Module names the import statements of `source` may load: `import a.b` -> a.b;
    `from a import b` -> a and a.b (b may be a submodule); relative imports resolved
    against `package`. SyntaxError (ValueError for NUL bytes) when it does not parse."""
    import ast  # here: a settled run imports this module for `top_level_module` only

    out: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            if base is None:
                continue
            if base:
                out.append(base)
            out += [f"{base}.{a.name}" if base else a.name for a in node.names if a.name != "*"]
    return out


def _absolute(module: str | None, level: int, package: str | None) -> str | None:
    if level == 0:
        return module or None
    if package is None:
        return None  # a relative import in a cell: it fails at run time, nothing to hash
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    anchor = parts[: len(parts) - (level - 1)]
    return ".".join([*anchor, *([module] if module else [])])
