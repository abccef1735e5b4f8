"""Value codecs (SPEC 8): JSON, modules, cloudpickle, unstorable values.

Arrow values are covered in test_codecs_arrow.py.
"""

from __future__ import annotations

import enum
import io
import json
import math
import os
import pickle
import socket
import subprocess
import sys
import threading
import types
import xml.etree.ElementTree
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import roundtrip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strata_engine.store import BlobStore, StoredValue, UnstorableValue, load_value, store_value
from strata_engine.store.codecs import ARROW, JSON, MODULE, PICKLE, is_json_exact


# -- JSON ----------------------------------------------------------------------------------
class Color(enum.IntEnum):
    RED = 1


def _shared() -> object:
    inner = [1]
    return [inner, inner]


def _cyclic() -> object:
    loop: list[object] = []
    loop.append(loop)
    return loop


def _deep() -> object:
    value: object = 0
    for _ in range(150):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -(2**100), 1.5, -0.0, "", "ç\u2028", [], {}, {"a": [1, {"b": None}]}],
)
def test_json_exact_values_are_json(blobs: BlobStore, value: object) -> None:
    assert is_json_exact(value)
    stored, loaded = roundtrip(blobs, value)
    assert stored.content_type == JSON
    assert same_value(loaded, value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: (1, 2),
        lambda: [float("nan")],
        lambda: {"x": float("inf")},
        lambda: {1: "a"},
        lambda: {"k": (1,)},
        lambda: Color.RED,
        lambda: np.float64(1.0),
        lambda: b"bytes",
        lambda: {1, 2},
        _shared,
        _cyclic,
        _deep,
        lambda: 10**5000,  # beyond int->str digit limit
        lambda: "\ud800",  # lone surrogate: not UTF-8 encodable
    ],
    ids=[
        "tuple",
        "nan",
        "inf",
        "int_key",
        "nested_tuple",
        "intenum",
        "numpy_scalar",
        "bytes",
        "set",
        "shared",
        "cyclic",
        "deep",
        "huge_int",
        "surrogate",
    ],
)
def test_values_json_would_change_are_pickled(blobs: BlobStore, make: Callable[[], Any]) -> None:
    value = make()
    stored, loaded = roundtrip(blobs, value)
    assert stored.content_type == PICKLE
    if isinstance(value, list) and value and value[0] is value:
        assert loaded[0] is loaded  # the cycle survives
    else:
        assert same_value(loaded, value)


def test_bool_and_int_stay_distinct(blobs: BlobStore) -> None:
    loaded = roundtrip(blobs, [True, 1, 1.0, False, 0])[1]
    assert [type(v) for v in loaded] == [bool, int, float, bool, int]
    assert store_value(blobs, "a", True).digest != store_value(blobs, "a", 1).digest


def same_value(a: object, b: object) -> bool:
    """Equality that also demands equal types (True is not 1), matches NaN with NaN and
    tells -0.0 from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    return a == b


def _keys() -> st.SearchStrategy[object]:
    return st.one_of(st.text(max_size=5), st.integers(), st.booleans())


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(max_size=8),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=5), children, max_size=4),
        st.dictionaries(_keys(), children, max_size=3),
    ),
    max_leaves=20,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(value=_values)
def test_property_json_and_pickle_round_trip_exactly(tmp_path: Path, value: object) -> None:
    blobs = BlobStore(tmp_path / "artifacts")
    stored = store_value(blobs, "v", value)
    assert same_value(load_value(blobs, stored), value)
    assert stored.content_type == (JSON if is_json_exact(value) else PICKLE)
    if stored.content_type == JSON:
        assert json.loads(blobs.get_bytes(stored.digest)) == value
    assert store_value(blobs, "v", value).digest == stored.digest


# -- modules -------------------------------------------------------------------------------
@pytest.mark.parametrize("module", [os, json, os.path, xml.etree.ElementTree])
def test_modules_are_stored_by_name_and_reimported(blobs: BlobStore, module: Any) -> None:
    stored, loaded = roundtrip(blobs, module)
    assert stored.content_type == MODULE
    assert blobs.get_bytes(stored.digest) == module.__name__.encode()
    assert loaded is module


def test_a_module_not_importable_by_name_is_pickled(blobs: BlobStore) -> None:
    dynamic = types.ModuleType("made_up_module")
    dynamic.answer = 42  # type: ignore[attr-defined]
    stored, loaded = roundtrip(blobs, dynamic)
    assert stored.content_type == PICKLE
    assert loaded.answer == 42


# -- cell-defined functions and classes ----------------------------------------------------
CELL_SOURCE = """
import math

SCALE = 3

def make_counter(start):
    count = start
    def step(by=1):
        nonlocal count
        count += by
        return count * SCALE
    return step

def hypotenuse(a, b):
    return math.hypot(a, b)

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def norm(self):
        return hypotenuse(self.x, self.y)

counter = make_counter(10)
origin_distance = Point(3, 4)
"""

LOADER = """
import sys
from pathlib import Path
from strata_engine.store import BlobStore, StoredValue, load_value
blobs = BlobStore(Path(sys.argv[1]))
def value(name):
    return load_value(blobs, StoredValue(sys.argv[2 + "hcpo".index(name)], "pickle/object", 0))
print(value("h")(5, 12))
print(value("c")(2))
print(value("p")(6, 8).norm())
print(type(value("o")).__name__, value("o").norm())
print("__strata_cell__" in sys.modules)
"""


def test_cell_functions_and_classes_ship_by_value_to_a_fresh_process(blobs: BlobStore) -> None:
    namespace: dict[str, Any] = {"__name__": "__strata_cell__"}
    exec(compile(CELL_SOURCE, "cells/defs.py", "exec"), namespace)
    names = {"h": "hypotenuse", "c": "counter", "p": "Point", "o": "origin_distance"}
    digests = []
    for short in "hcpo":
        stored = store_value(blobs, names[short], namespace[names[short]])
        assert stored.content_type == PICKLE
        digests.append(stored.digest)
    result = subprocess.run(
        [sys.executable, "-c", LOADER, str(blobs.root), *digests],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:5] == ["13.0", "36", "10.0", "Point 5.0", "False"]


# -- unstorable values ---------------------------------------------------------------------
def test_generator_error_names_variable_type_and_fix(blobs: BlobStore) -> None:
    with pytest.raises(UnstorableValue) as caught:
        store_value(blobs, "gen", (i for i in range(3)))
    assert caught.value.name == "gen"
    assert caught.value.type_name == "generator"
    assert str(caught.value) == (
        "variable 'gen' holds a generator, which cannot be stored; convert it to a list "
        "(gen = list(gen)) or make it private (_gen) if no other cell needs it"
    )


def _coroutine() -> Any:
    async def job() -> None:
        return None

    return job()


@pytest.mark.parametrize(
    ("make", "type_name", "phrase"),
    [
        (threading.Lock, "_thread.lock", "holds a lock"),
        (threading.RLock, "_thread.RLock", "holds a lock"),
        (socket.socket, "socket.socket", "holds an open socket"),
        (lambda: open(os.devnull), "_io.TextIOWrapper", "holds an open file"),  # noqa: SIM115
        (lambda: open(os.devnull, "wb"), "_io.BufferedWriter", "holds an open file"),  # noqa: SIM115
        (_coroutine, "coroutine", "holds a coroutine"),
        (lambda: {"rows": (x for x in "ab")}, "dict", "cannot pickle 'generator' object"),
    ],
    ids=["lock", "rlock", "socket", "file_read", "file_write", "coroutine", "nested"],
)
def test_unstorable_values_raise_a_clear_error(
    blobs: BlobStore, make: Callable[[], Any], type_name: str, phrase: str
) -> None:
    value = make()
    try:
        with pytest.raises(UnstorableValue) as caught:
            store_value(blobs, "thing", value)
    finally:
        close = getattr(value, "close", None)
        if close is not None:
            close()
    message = str(caught.value)
    assert caught.value.type_name == type_name
    assert message.startswith("variable 'thing' holds")
    assert phrase in message
    assert "make it private (_thing)" in message
    assert "\n" not in message
    assert not any((blobs.root / "tmp").glob("*"))


def test_unstorable_value_survives_pickling() -> None:
    error = UnstorableValue("gen", "generator", "convert it", "because")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.name, copy.type_name, str(copy)) == ("gen", "generator", str(error))


def test_in_memory_buffers_are_storable(blobs: BlobStore) -> None:
    loaded = roundtrip(blobs, io.BytesIO(b"abc"))[1]
    assert loaded.getvalue() == b"abc"


# -- stored value references ---------------------------------------------------------------
def test_stored_value_json_round_trip() -> None:
    value = StoredValue("ab" * 16, ARROW, 123)
    assert StoredValue.from_json(json.loads(json.dumps(value.to_json()))) == value


@pytest.mark.parametrize(
    "bad",
    [{}, {"digest": 1, "content_type": JSON, "size": 1}, {"digest": "x", "content_type": JSON}],
)
def test_stored_value_from_json_rejects_malformed(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="not a stored value"):
        StoredValue.from_json(bad)


def test_unknown_content_type_is_an_error(blobs: BlobStore) -> None:
    digest = blobs.put_bytes(b"x")
    with pytest.raises(ValueError, match="unknown content type"):
        load_value(blobs, StoredValue(digest, "image/gif", 1))
