"""Which interpreter a notebook's venv is made with: never a download (SPEC 7).

The engine's own interpreter when the notebook's `requires-python` allows it (or says
nothing), else the newest interpreter on this machine that satisfies it: pyenv's versions
(`$PYENV_ROOT/versions/*/bin/python`) and `python3.N` on PATH. The harness that runs cells
needs Python >= 3.11, so older interpreters are never chosen.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

MINIMUM = Version("3.11")
"""strata_engine itself (the harness inside the venv) needs this."""
_VERSION_DIR = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


class NoInterpreter(Exception):
    """No interpreter on this machine satisfies the notebook's requires-python."""


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: Version


def choose(requires_python: str | None) -> Interpreter:
    """The interpreter for a venv whose project says `requires_python`."""
    try:
        spec = SpecifierSet(requires_python or "")
    except InvalidSpecifier as exc:
        raise NoInterpreter(f"requires-python {requires_python!r} is not valid: {exc}") from exc
    own = Interpreter(sys.executable, Version(".".join(map(str, sys.version_info[:3]))))
    if own.version in spec:
        return own
    found = [i for i in candidates() if i.version in spec and i.version >= MINIMUM]
    if not found:
        seen = ", ".join(sorted({str(i.version) for i in [own, *candidates()]}))
        raise NoInterpreter(
            f"no Python on this machine satisfies requires-python {requires_python!r} "
            f"(found {seen}; Strata never downloads one, and its harness needs >= {MINIMUM}); "
            "install a matching Python or relax requires-python in pyproject.toml"
        )
    return max(found, key=lambda i: i.version)


def candidates() -> list[Interpreter]:
    """Interpreters whose version can be known without running them."""
    out: list[Interpreter] = []
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    try:
        entries = sorted(root.iterdir())
    except OSError:
        entries = []
    for entry in entries:
        match = _VERSION_DIR.match(entry.name)
        python = entry / "bin" / "python"
        if match and python.exists():
            out.append(Interpreter(str(python), Version(entry.name)))
    for minor in range(11, 20):
        path = shutil.which(f"python3.{minor}")
        if path and "shims" not in Path(path).parts:
            out.append(Interpreter(path, Version(f"3.{minor}")))
    return out
