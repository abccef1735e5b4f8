"""Provenance identity of published functions and classes (store/identity.py): downstream
keys hash it instead of the blob digest, so promoting a cell to a module keeps its readers
cached, while anything that changes what the function does still re-runs them."""

from __future__ import annotations

import importlib
import sqlite3
import sys
import textwrap
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import NotebookFactory

from strata_engine.promote import promote
from strata_engine.run.events import CellRun
from strata_engine.run.session import Session
from strata_engine.store import ArtifactIndex, BlobStore, Entry, StoredValue, store_value
from strata_engine.store.identity import identity_of

Opener = Callable[[Path], Session]


def run(session: Session) -> dict[str, CellRun]:
    session.reload()
    return {cell.id: cell for cell in session.run("all").cells}


def executed(results: dict[str, CellRun]) -> set[str]:
    return {cell_id for cell_id, r in results.items() if r.executed}


def stored(session: Session, cell_id: str, name: str) -> StoredValue:
    entry = session.states()[cell_id].entry
    assert entry is not None, f"{cell_id} has no current entry"
    return entry.outputs[name]


def edit(nb: Path, cell_id: str, source: str) -> None:
    (nb / "cells" / f"{cell_id}.py").write_text(source)


# -- end to end: sessions running real cell processes ----------------------------------------
HELPERS = """import math


def clean(df):
    return [round(math.sqrt(v), 3) for v in df if v is not None]
"""


def test_promoting_a_function_keeps_its_reader_cached(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    nb = make_notebook(
        {
            "data": "rows = [4, None, 9]\n",
            "helpers": HELPERS,
            "use": "out = clean(rows)\nprint(out)\n",
        }
    )
    session = open_session(nb)
    assert executed(run(session)) == {"data", "helpers", "use"}
    before = stored(session, "helpers", "clean")
    assert before.identity is not None

    promote(nb, "helpers", Path("lib/cleaning.py"))
    session.reload()
    assert session.states()["helpers"].state == "stale"
    after_run = run(session)
    assert executed(after_run) == {"helpers"}  # its source changed; `use` is a cache hit
    assert after_run["use"].cache_hit and after_run["use"].stdout == "[2.0, 3.0]\n"
    after = stored(session, "helpers", "clean")
    # By reference now (another blob), the same provenance identity.
    assert after.digest != before.digest
    assert after.identity == before.identity
    assert {s.state for s in session.states().values()} == {"ready"}


def test_a_changed_global_the_function_reads_reruns_its_readers(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    defs = "K = 3\n\n\ndef scale(v):\n    return v * K\n"
    nb = make_notebook({"defs": defs, "use": "y = scale(2)\nprint(y)\n"})
    session = open_session(nb)
    run(session)
    first = stored(session, "defs", "scale").identity
    edit(nb, "defs", defs.replace("K = 3", "K = 4"))
    results = run(session)
    assert executed(results) == {"defs", "use"}
    assert results["use"].stdout == "8\n"
    assert stored(session, "defs", "scale").identity not in (None, first)


def test_an_edited_body_reruns_and_a_moved_definition_does_not(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    defs = "def scale(v):\n    return v * 3\n"
    nb = make_notebook({"defs": defs, "use": "y = scale(2)\nprint(y)\n"})
    session = open_session(nb)
    run(session)
    digest = stored(session, "defs", "scale").digest
    # Lines above the definition move it (its pickled code records line numbers: another
    # digest) but do not change it: its reader stays cached.
    edit(nb, "defs", "unrelated = 1\n\n\n" + defs)
    results = run(session)
    assert executed(results) == {"defs"}
    assert stored(session, "defs", "scale").digest != digest
    edit(nb, "defs", "unrelated = 1\n\n\n" + defs.replace("v * 3", "v * 3 + 1"))
    results = run(session)
    assert executed(results) == {"defs", "use"}
    assert results["use"].stdout == "7\n"


def test_closures_and_lambdas_fall_back_to_the_digest(
    make_notebook: NotebookFactory, open_session: Opener
) -> None:
    defs = "def make(k):\n    def f(v):\n        return v * k\n    return f\n\n\n"
    defs += "scale = make(3)\nsquare = lambda v: v * v\n"
    nb = make_notebook({"defs": defs, "use": "y = scale(2) + square(3)\nprint(y)\n"})
    session = open_session(nb)
    run(session)
    assert stored(session, "defs", "scale").identity is None
    assert stored(session, "defs", "square").identity is None
    assert stored(session, "defs", "make").identity is not None
    # What the closure holds changes, its source does not: the digest still re-runs `use`.
    edit(nb, "defs", defs.replace("make(3)", "make(4)"))
    results = run(session)
    assert executed(results) == {"defs", "use"}
    assert results["use"].stdout == "17\n"


# -- identity_of on modules imported in this process ------------------------------------------
@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Callable[[str, str], types.ModuleType]]:
    """Write `name.py` under tmp_path and import it (again, when rewritten)."""
    sys.path.insert(0, str(tmp_path))
    written: list[str] = []

    def load(name: str, source: str) -> types.ModuleType:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        written.append(name)
        importlib.invalidate_caches()
        if name in sys.modules:
            return importlib.reload(sys.modules[name])
        return importlib.import_module(name)

    yield load
    sys.path.remove(str(tmp_path))
    for name in written:
        sys.modules.pop(name, None)


CLEAN = """
import math

K = 3


def helper(v):
    return v + 1


def clean(df, k=2):
    return [helper(v) * K * k * math.pi for v in df]


class Box:
    size = 4

    def volume(self):
        return self.size ** 3 * K

    @property
    def double(self):
        return super().__repr__() and 2 * self.size
"""


def test_identity_ignores_placement_and_follows_what_the_code_reads(
    modules: Callable[[str, str], types.ModuleType],
) -> None:
    first = modules("ident_a", CLEAN)
    # Another module, the definitions further down and with comments: the same identity.
    moved = modules("ident_b", "# moved\n\n\n" + CLEAN.replace("return v + 1", "return v + 1  #"))
    assert identity_of(first.clean) is not None
    assert identity_of(first.clean) == identity_of(moved.clean)
    assert identity_of(first.Box) == identity_of(moved.Box)

    def changed(source: str) -> tuple[str | None, str | None]:
        module = modules("ident_b", source)
        return identity_of(module.clean), identity_of(module.Box)

    base = (identity_of(first.clean), identity_of(first.Box))
    for variant in (
        CLEAN.replace("K = 3", "K = 4"),  # a global both read
        CLEAN.replace("return v + 1", "return v + 2"),  # a function clean calls
        CLEAN.replace("k=2", "k=5"),  # a default
    ):
        new = changed(variant)
        assert new[0] is not None and new[0] != base[0], variant
    box = changed(CLEAN.replace("size = 4", "size = 5"))
    assert box[0] == base[0] and box[1] not in (None, base[1])
    module = modules("ident_b", CLEAN)
    module.Box.size = 6  # mutated after definition: not in the source, still seen
    mutated = identity_of(module.Box)
    assert mutated not in (None, base[1])
    module.Box.volume = module.Box.double.fget  # another method's code of the same class
    assert identity_of(module.Box) not in (None, base[1], mutated)
    module.Box.volume = module.helper  # code that is not the class body's
    assert identity_of(module.Box) is None


def test_what_cannot_be_vouched_for_has_no_identity(
    modules: Callable[[str, str], types.ModuleType],
) -> None:
    module = modules(
        "ident_c",
        """
        import abc
        import functools
        from dataclasses import dataclass


        @functools.lru_cache
        def cached(v):
            return v


        def tagged(v):
            return v


        tagged.note = "attribute"


        def outer():
            def inner(v):
                return v
            return inner


        @dataclass
        class Point:
            x: int


        class Base(abc.ABC):
            pass


        def plain(v):
            return v
        """,
    )
    assert identity_of(module.plain) is not None
    for value in (
        module.cached,
        module.tagged,
        module.outer(),
        module.Point,
        module.Base,
        lambda v: v,
        len,
        int,
    ):
        assert identity_of(value) is None, value
    # The file changed after the import: the source is no longer what runs.
    assert identity_of(module.outer) is not None  # a nested def is part of its code
    path = Path(module.__file__ or "")
    text = path.read_text()
    path.write_text(text.replace("def plain(v):\n    return v", "def plain(v):\n    return -v"))
    assert identity_of(module.plain) is None
    assert identity_of(module.outer) is not None  # untouched, still verified


def test_mutual_recursion_has_an_identity_that_follows_both(
    modules: Callable[[str, str], types.ModuleType],
) -> None:
    source = """
    def even(n):
        return n == 0 or odd(n - 1)


    def odd(n):
        return n != 0 and even(n - 1)
    """
    first = identity_of(modules("ident_d", source).even)
    assert first is not None
    changed = identity_of(modules("ident_d", source.replace("n != 0", "n > 0")).even)
    assert changed is not None and changed != first


# -- the stored format ----------------------------------------------------------------------------
def test_identity_is_stored_only_when_set_and_old_entries_load(
    blobs: BlobStore, index: ArtifactIndex
) -> None:
    plain = store_value(blobs, "x", [1, 2])
    assert plain.identity is None and "identity" not in plain.to_json()
    assert StoredValue.from_json({"digest": "d", "content_type": "json/object", "size": 1}) == (
        StoredValue("d", "json/object", 1)
    )
    with pytest.raises(ValueError):
        StoredValue.from_json(
            {"digest": "d", "content_type": "json/object", "size": 1, "identity": 3}
        )
    function = store_value(blobs, "f", identity_of)  # an installed function: by reference
    assert function.identity is None
    with_identity = StoredValue(plain.digest, plain.content_type, plain.size, "id-1")
    for key, value in (("old", plain), ("new", with_identity)):
        index.put(Entry(key, "c", "ok", {"x": value}, None, "", "", None, None, 1.0, time.time()))
    rows = dict(
        sqlite3.connect(blobs.root / "index.sqlite").execute("SELECT key, outputs FROM entries")
    )
    assert "identity" not in rows["old"] and '"identity":"id-1"' in rows["new"].replace(" ", "")
    old, new = index.get("old"), index.get("new")
    assert old is not None and old.outputs["x"] == plain
    assert new is not None and new.outputs["x"].identity == "id-1"
    assert new.outputs["x"].provenance == "id-1" and old.outputs["x"].provenance == plain.digest
