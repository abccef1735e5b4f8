"""The content-addressed artifact store: blobs, codecs, the SQLite index and eviction.

Importing this package is cheap (no pyarrow, pandas, numpy or cloudpickle): a fully cached
`strata run` only asks the index.
"""

from typing import TYPE_CHECKING, Any

from strata_engine.store.blobs import BlobStore
from strata_engine.store.codecs import StoredValue, UnstorableValue, load_value, store_value
from strata_engine.store.index import ArtifactIndex, Entry, RunRecord, load_displays, save_displays
from strata_engine.store.location import open_store, register
from strata_engine.store.protocol import Store, StoreError, StoreOpener

if TYPE_CHECKING:
    from strata_engine.store.gc import GcReport, collect_garbage, parse_size

_LAZY = frozenset({"GcReport", "collect_garbage", "parse_size"})
"""Eviction's names, imported on first use: a run never collects (~3 ms of a cached run)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from strata_engine.store import gc

        return getattr(gc, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ArtifactIndex",
    "BlobStore",
    "Entry",
    "GcReport",
    "RunRecord",
    "Store",
    "StoreError",
    "StoreOpener",
    "StoredValue",
    "UnstorableValue",
    "collect_garbage",
    "load_displays",
    "load_value",
    "open_store",
    "parse_size",
    "register",
    "save_displays",
    "store_value",
]
