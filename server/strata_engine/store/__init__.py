"""The content-addressed artifact store: blobs, codecs, the SQLite index and eviction.

Importing this package is cheap (no pyarrow, pandas, numpy or cloudpickle): a fully cached
`strata run` only asks the index.
"""

from typing import TYPE_CHECKING, Any

from strata_engine.store.blobs import BlobStore
from strata_engine.store.codecs import StoredValue, UnstorableValue, load_value, store_value

if TYPE_CHECKING:
    from strata_engine.store.gc import GcReport, collect_garbage, parse_size
    from strata_engine.store.index import (
        ArtifactIndex,
        Entry,
        RunRecord,
        load_displays,
        save_displays,
    )
    from strata_engine.store.location import open_store, register
    from strata_engine.store.protocol import Store, StoreError, StoreOpener

_LAZY = {
    **dict.fromkeys(("GcReport", "collect_garbage", "parse_size"), "gc"),
    **dict.fromkeys(
        ("ArtifactIndex", "Entry", "RunRecord", "load_displays", "save_displays"), "index"
    ),
    **dict.fromkeys(("open_store", "register"), "location"),
    **dict.fromkeys(("Store", "StoreError", "StoreOpener"), "protocol"),
}
"""Names imported from their module on first use. A cell process needs only the blobs and
the codecs: the index, the store backends and eviction cost every zygote ~30 ms of a first
run's critical path (and a run never collects)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
