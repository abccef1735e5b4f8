"""pytest's assertion rewriting for `cells/<id>.test.py`.

pytest imports a test file in importlib mode under a name derived from its path
(`cells.clean_test`: the dot of `clean.test` becomes `_`). Its rewriting import hook looks
the module up by that name, finds no `clean_test.py` in `cells/` and steps aside, so a
failing assert in a cell test showed the line without the values. This finder answers for
the cell test files themselves and hands them to pytest's own hook as the loader: the asserts
are rewritten exactly as in any test module.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

from strata_engine.testing.runner import TEST_SUFFIX


class CellTestFinder:
    """A `sys.meta_path` finder for cell test files, loading them with `rewriter`."""

    def __init__(self, rewriter: Any) -> None:
        self.rewriter = rewriter

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        for entry in path or ():
            for file in Path(entry).glob(f"*{TEST_SUFFIX}"):
                stem = file.name.removesuffix(".py")  # clean.test
                if name.rpartition(".")[2] in (stem, stem.replace(".", "_")):
                    return importlib.util.spec_from_file_location(name, file, loader=self.rewriter)
        return None


def install() -> CellTestFinder | None:
    """Put the finder first on `sys.meta_path` when pytest's rewriting hook is active (it is
    not under `--assert=plain`)."""
    from _pytest.assertion.rewrite import AssertionRewritingHook

    rewriter = next((f for f in sys.meta_path if isinstance(f, AssertionRewritingHook)), None)
    if rewriter is None:
        return None
    finder = CellTestFinder(rewriter)
    sys.meta_path.insert(0, finder)
    return finder


def uninstall(finder: CellTestFinder | None) -> None:
    if finder is not None and finder in sys.meta_path:
        sys.meta_path.remove(finder)
