"""Serialization of published variables (SPEC 8), first match wins:

1. pyarrow Table/RecordBatch, pandas DataFrame/Series, numpy ndarray -> Arrow IPC file
   (`arrow_codec`), unless the conversion would not round-trip exactly;
2. JSON-exact values -> JSON;
3. importable modules -> their name, re-imported on load;
4. everything else -> cloudpickle (cell-defined functions and classes travel by value because
   their `__module__`, `__strata_cell__`, is not importable).

Equal values must give byte-identical blobs (hence equal digests), because downstream cache
keys hash the digests of their inputs: that is what makes early cutoff work. A function or
class also gets a provenance identity (store/identity.py) that keys it instead, so the same
definition keys the same by value (in a cell) and by reference (in a module).

This module imports no heavy library at import time: pyarrow (and pandas/numpy) load only
for values whose type comes from them, cloudpickle only when a value is pickled.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import sys
import types
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from strata_engine.store.blobs import BlobStore

ARROW = "arrow/ipc"
JSON = "json/object"
MODULE = "module/import"
PICKLE = "pickle/object"

# Values from these top-level packages may be Arrow-encodable; only they pay for `import pyarrow`.
_ARROW_PACKAGES = frozenset({"pandas", "pyarrow", "numpy"})
# Deeper JSON risks a RecursionError in json.loads when the consumer's stack is deeper than
# the producer's; such values are rare and pickle handles them.
_MAX_JSON_DEPTH = 100
_JSON_SCALARS = (str, int, bool, type(None))  # exact types: subclasses are not JSON-exact


class StoredValue(NamedTuple):  # a cached run must not import dataclasses, inspect: ~12 ms
    """A reference to one stored value: its blob, how to decode it, and the blob's size."""

    digest: str
    content_type: str  # ARROW | JSON | MODULE | PICKLE
    size: int
    identity: str | None = None
    """A function's or class's provenance identity (store/identity.py): what downstream
    keys hash instead of `digest`, so a definition moved from a cell into a module (by value
    -> by reference, another digest) keys the same. None: the digest keys it."""

    @property
    def provenance(self) -> str:
        """What a downstream key hashes for this value."""
        return self.identity or self.digest

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "digest": self.digest,
            "content_type": self.content_type,
            "size": self.size,
        }
        if self.identity is not None:  # absent otherwise: the format stays the original's
            out["identity"] = self.identity
        return out

    @staticmethod
    def from_json(d: Mapping[str, object]) -> StoredValue:
        digest, content_type, size = d.get("digest"), d.get("content_type"), d.get("size")
        identity = d.get("identity")
        if (
            not isinstance(digest, str)
            or not isinstance(content_type, str)
            or type(size) is not int
            or not (identity is None or isinstance(identity, str))
        ):
            raise ValueError(f"not a stored value: {dict(d)!r}")
        return StoredValue(digest, content_type, size, identity)


class UnstorableValue(Exception):
    """A published variable whose value cannot be serialized; fails the producing cell."""

    def __init__(self, name: str, type_name: str, hint: str, reason: str | None = None) -> None:
        self.name = name
        self.type_name = type_name
        self.hint = hint
        self.reason = reason
        super().__init__(name, type_name, hint, reason)

    def __str__(self) -> str:
        because = f" ({self.reason})" if self.reason else ""
        return (
            f"variable {self.name!r} holds {_described(self.type_name)}, which cannot be "
            f"stored{because}; {self.hint} or make it private (_{self.name}) if no other "
            f"cell needs it"
        )


# -- store ---------------------------------------------------------------------------------
def store_value(blobs: BlobStore, name: str, value: object) -> StoredValue:
    """Serialize `value` (published as `name`) into `blobs`; raises UnstorableValue."""
    if type(value).__module__.partition(".")[0] in _ARROW_PACKAGES:
        from strata_engine.store import arrow_codec

        stored = arrow_codec.try_store(blobs, value)
        if stored is not None:
            return stored
    if is_json_exact(value):
        encoded = json_bytes(value)
        if encoded is not None:
            return _put(blobs, JSON, encoded)
    if isinstance(value, types.ModuleType) and sys.modules.get(value.__name__) is value:
        return _put(blobs, MODULE, value.__name__.encode("utf-8"))
    stored = _store_pickle(blobs, name, value)
    if isinstance(value, types.FunctionType | type):
        from strata_engine.store.identity import identity_of

        identity = identity_of(value)
        if identity is not None:
            return stored._replace(identity=identity)
    return stored


def _put(blobs: BlobStore, content_type: str, data: bytes) -> StoredValue:
    return StoredValue(blobs.put_bytes(data), content_type, len(data))


def is_json_exact(value: object) -> bool:
    """True if JSON gives `value` back with the same types: None, bool, int, finite float, str,
    and lists/dicts (str keys) of them, as a tree. Tuples, NaN, non-str keys, subclasses
    (IntEnum, numpy scalars) and shared or cyclic containers (JSON would duplicate them) are
    not, so they go to pickle, which keeps them exactly."""
    stack: list[tuple[object, int]] = [(value, 0)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if type(item) is float:
            if not math.isfinite(item):
                return False
            continue
        if type(item) in _JSON_SCALARS:
            continue
        children: Iterable[object]
        if type(item) is dict and all(type(key) is str for key in item):
            children = item.values()
        elif type(item) is list:
            children = item
        else:
            return False
        if depth >= _MAX_JSON_DEPTH or id(item) in seen:
            return False
        seen.add(id(item))
        stack.extend((child, depth + 1) for child in children)
    return True


def json_bytes(value: object) -> bytes | None:
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        # ValueError: an int beyond Python's int->str digit limit; UnicodeEncodeError: a lone
        # surrogate in a string. Pickle stores both exactly.
        return None


def _store_pickle(blobs: BlobStore, name: str, value: object) -> StoredValue:
    """Pickle straight into a temp file: a large object never exists twice in memory."""
    known = _known_unstorable(name, value)
    if known is not None:
        raise known
    import cloudpickle

    temp = blobs.new_temp_path()
    try:
        with open(temp, "wb") as handle:
            cloudpickle.dump(value, handle)
        size = temp.stat().st_size
    except OSError:
        temp.unlink(missing_ok=True)
        raise  # the disk, not the value
    except Exception as exc:
        temp.unlink(missing_ok=True)
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        hint = "convert it to plain data (lists, dicts, DataFrames)"
        raise UnstorableValue(name, _type_name(value), hint, reason) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return StoredValue(blobs.put_file(temp), PICKLE, size)


# -- unstorable values ---------------------------------------------------------------------
_LOCK_TYPES = frozenset(
    {"_thread.lock", "_thread.RLock", "threading.Condition", "threading.Semaphore"}
)
_SOCKET_TYPES = frozenset({"socket.socket", "_socket.socket", "ssl.SSLSocket"})


def _known_unstorable(name: str, value: object) -> UnstorableValue | None:
    """Values that are unstorable by nature, with a hint that fits them. Checked before
    pickling: cloudpickle would "store" a file opened for reading as its contents."""
    type_name = _type_name(value)
    if isinstance(value, types.GeneratorType):
        return UnstorableValue(name, type_name, f"convert it to a list ({name} = list({name}))")
    if isinstance(value, (types.AsyncGeneratorType, types.CoroutineType)):
        return UnstorableValue(name, type_name, "await it and publish the result instead")
    if isinstance(value, io.IOBase) and not isinstance(value, (io.BytesIO, io.StringIO)):
        hint = f"read what you need into a value (e.g. text = {name}.read()) and close it,"
        return UnstorableValue(name, type_name, hint)
    mro = {_qualified(cls) for cls in type(value).__mro__}
    if mro & (_LOCK_TYPES | _SOCKET_TYPES):
        return UnstorableValue(name, type_name, "create it in each cell that uses it")
    return None


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else _qualified(cls)


_DESCRIPTIONS = {
    "generator": "a generator",
    "async_generator": "an async generator",
    "coroutine": "a coroutine",
    "_thread.lock": "a lock (_thread.lock)",
    "_thread.RLock": "a lock (_thread.RLock)",
    "socket.socket": "an open socket (socket.socket)",
}


def _described(type_name: str) -> str:
    if type_name in _DESCRIPTIONS:
        return _DESCRIPTIONS[type_name]
    if type_name.startswith("_io."):
        return f"an open file ({type_name})"
    article = "an" if type_name[:1].lower() in "aeiou" else "a"
    return f"{article} {type_name}"


# -- load ----------------------------------------------------------------------------------
def load_value(blobs: BlobStore, stored: StoredValue) -> object:
    """Rebuild a stored value. Arrow values are memory-mapped, not read."""
    if stored.content_type == ARROW:
        from strata_engine.store import arrow_codec

        return arrow_codec.load(blobs.path(stored.digest))
    data = blobs.get_bytes(stored.digest)
    if stored.content_type == JSON:
        return json.loads(data)
    if stored.content_type == MODULE:
        return importlib.import_module(data.decode("utf-8"))
    if stored.content_type == PICKLE:
        # Plain pickle suffices: cloudpickle's payload imports cloudpickle itself if needed.
        import pickle

        return pickle.loads(data)
    raise ValueError(f"unknown content type {stored.content_type!r} for blob {stored.digest}")
