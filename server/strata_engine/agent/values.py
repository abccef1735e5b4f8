"""A variable's cached value, bounded: a table's head, shape and column types read from the
memory-mapped Arrow blob (never the whole table), JSON cut, other values by a short repr.

Pickled values are only loaded when running code is allowed: unpickling imports the
modules the value's classes live in, which is running code."""

from __future__ import annotations

import json
import reprlib
from typing import Any

from strata_engine.agent.bounds import clip
from strata_engine.agent.spec import ToolError
from strata_engine.run.variables import TABLE_KINDS, describe
from strata_engine.store import BlobStore, StoredValue, load_value
from strata_engine.store.codecs import ARROW, JSON, MODULE, PICKLE

HEAD_ROWS = 10
MAX_PREVIEW = 3000


def preview(blobs: BlobStore, name: str, stored: StoredValue, *, allow_run: bool) -> dict[str, Any]:
    """What read_variable returns: the description (type, shape, columns) and a preview."""
    info = describe(blobs, name, stored).to_json()
    if stored.content_type == ARROW:
        info["preview"] = _arrow_preview(blobs, stored)
    elif stored.content_type == JSON:
        value = load_value(blobs, stored)
        info["preview"] = clip(json.dumps(value, indent=1, default=str), MAX_PREVIEW)
    elif stored.content_type == MODULE:
        info["preview"] = f"module {blobs.get_bytes(stored.digest).decode('utf-8')}"
    elif stored.content_type == PICKLE:
        if not allow_run:
            raise ToolError(
                f"{name!r} is a pickled {info['type']}; loading it imports the modules its "
                "classes come from (that runs code): start the server with --allow-run (in "
                "VS Code: trust the workspace)"
            )
        info["preview"] = _object_preview(load_value(blobs, stored))
    return info


def _arrow_preview(blobs: BlobStore, stored: StoredValue) -> str:
    import pyarrow as pa

    from strata_engine.store.arrow_codec import META_KEY

    reader = pa.ipc.open_file(pa.memory_map(str(blobs.path(stored.digest)), "r"))
    meta = json.loads((reader.schema.metadata or {}).get(META_KEY, b"{}"))
    if meta.get("kind") not in TABLE_KINDS:
        return _object_preview(load_value(blobs, stored))  # an ndarray: memory-mapped
    batches, rows = [], 0
    for i in range(reader.num_record_batches):
        if rows >= HEAD_ROWS:
            break
        batch = reader.get_batch(i)
        batches.append(batch)
        rows += batch.num_rows
    if not batches:
        return "(no rows)"
    head = pa.Table.from_batches(batches).slice(0, HEAD_ROWS).replace_schema_metadata(None)
    return clip(head.to_pandas().to_string(max_colwidth=60), MAX_PREVIEW)


def _object_preview(value: object) -> str:
    head = getattr(value, "head", None)
    if callable(head) and hasattr(value, "shape"):
        try:
            return clip(str(head(HEAD_ROWS)), MAX_PREVIEW)
        except Exception:  # a `head` that is not pandas': fall back to the repr
            pass
    short = reprlib.Repr()
    short.maxstring, short.maxother, short.maxlist, short.maxdict = 400, 400, 20, 20
    return clip(short.repr(value), MAX_PREVIEW)
