"""Value bytes on the wire of executor protocol v1, as the original Strata writes them.

The protocol names four formats, but the original Strata (PyPI strata-notebook) and this
engine's store encode three of them differently, so blob bytes cannot travel unchanged:

- `json/object`: JSON on both sides.
- `pickle/object`: our blob is a (cloud)pickle; the original writes a pickled envelope
  `{tag, codec, payload}` and also reads a bare pickle.
- `module/import`: our blob is the module's name; the original's is `{"module_name": name}`.
- `arrow/ipc`: our blob is an Arrow IPC *file* with `strata.codec` metadata; the original's
  is an Arrow IPC *stream* with `strata.arrow.*` metadata (shape, source library).

`to_wire` turns a blob into what the original reads; `from_wire` turns what either side
sends into our blob. Both directions also accept our own encoding, so an older strata worker
or client still works. Nothing here runs code from the bytes: pickles are only ever opened by
an unpickler that refuses every global, and Arrow data is rebuilt from plain columns.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata_engine.store.codecs import ARROW, JSON, MODULE, PICKLE, StoredValue, store_value

if TYPE_CHECKING:
    import pyarrow as pa

    from strata_engine.store import BlobStore

_ARROW_FILE_MAGIC = b"ARROW1"
_OUR_META = b"strata.codec"
_SHAPE = b"strata.arrow.shape"
_SOURCE = b"strata.arrow.source"
_SERIES_NAME = b"strata.arrow.pandas.name"
_TENSOR_SHAPE = b"strata.arrow.tensor.shape"
_TENSOR_DTYPE = b"strata.arrow.tensor.dtype"
_SCALAR_TYPE = b"strata.arrow.scalar.type"
_OUR_KIND_TO_SOURCE = {
    "dataframe": b"pandas.DataFrame",
    "series": b"pandas.Series",
    "table": b"pyarrow.Table",
    "record_batch": b"pyarrow.RecordBatch",
}
_COMPLEX_VIEWS = {"complex64": "float32", "complex128": "float64"}
_ENVELOPE_KEYS = frozenset({"codec", "payload"})


class WireError(Exception):
    """Bytes that claim a format but cannot be read as it; the message names the problem."""


# -- to the wire ---------------------------------------------------------------------------
def to_wire(content_type: str, blob: Path, workdir: Path) -> Path:
    """The file to send for the blob at `blob`: the blob itself when the encodings agree,
    else a converted copy written into `workdir` (the caller removes it)."""
    if content_type == MODULE:
        name = blob.read_text(encoding="utf-8")
        target = workdir / f"{blob.name}.module.json"
        target.write_text(json.dumps({"module_name": name}), encoding="utf-8")
        return target
    if content_type == ARROW:
        target = workdir / f"{blob.name}.arrow"
        _arrow_to_stream(blob, target)
        return target
    # JSON is the same; a bare pickle is what the original's reader calls a legacy payload.
    return blob


def _arrow_to_stream(blob: Path, target: Path) -> None:
    import pyarrow as pa

    reader = pa.ipc.open_file(pa.memory_map(str(blob), "r"))
    metadata = dict(reader.schema.metadata or {})
    ours = json.loads(metadata.get(_OUR_META, b"{}"))
    kind = ours.get("kind")
    if kind == "ndarray":
        _write_stream(_tensor_table(blob), target)
        return
    # Our metadata stays: it is what lets a strata worker rebuild the exact value.
    metadata[_SHAPE] = b"table"
    metadata[_SOURCE] = _OUR_KIND_TO_SOURCE.get(kind, b"pyarrow.Table")
    if kind == "series":
        metadata[_SERIES_NAME] = json.dumps(ours.get("name")).encode("utf-8")
    schema = reader.schema.with_metadata(metadata)
    with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for index in range(reader.num_record_batches):
            writer.write_batch(reader.get_batch(index).replace_schema_metadata(metadata))


def _tensor_table(blob: Path) -> pa.Table:
    """An ndarray the way the original writes one: C order, flat, shape and dtype in metadata."""
    import numpy as np
    import pyarrow as pa

    from strata_engine.store import arrow_codec

    array = np.ascontiguousarray(arrow_codec.load(blob))
    flat = array.reshape(-1)
    if str(flat.dtype) in _COMPLEX_VIEWS:
        flat = flat.view(_COMPLEX_VIEWS[str(flat.dtype)])
    try:
        column = pa.array(flat)
    except (pa.ArrowException, TypeError) as exc:
        raise WireError(f"an ndarray of dtype {array.dtype} has no Arrow form ({exc})") from exc
    table = pa.table({"values": column})
    return table.replace_schema_metadata(
        {
            _SHAPE: b"tensor",
            _TENSOR_SHAPE: json.dumps(list(array.shape)).encode("utf-8"),
            _TENSOR_DTYPE: str(array.dtype).encode("utf-8"),
        }
    )


def _write_stream(table: pa.Table, target: Path) -> None:
    import pyarrow as pa

    with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


# -- from the wire -------------------------------------------------------------------------
def from_wire(blobs: BlobStore, name: str, content_type: str, data: Path | bytes) -> StoredValue:
    """Store what arrived for variable `name` as our blob; raises WireError."""
    raw = data if isinstance(data, bytes) else None
    path = data if isinstance(data, Path) else None
    if content_type == ARROW:
        return _arrow_from_wire(blobs, name, raw, path)
    if content_type == MODULE:
        text = (raw if raw is not None else _read(path)).decode("utf-8", errors="replace")
        return _put(blobs, MODULE, _module_name(text).encode("utf-8"))
    if content_type == PICKLE:
        blob = raw if raw is not None else _read(path)
        return _put(blobs, PICKLE, _unwrap_envelope(blob))
    if content_type == JSON:
        if raw is not None:
            return _put(blobs, JSON, raw)
        assert path is not None
        size = path.stat().st_size  # before put_file moves the file into the store
        return StoredValue(blobs.put_file(path), JSON, size)
    raise WireError(f"unknown format {content_type!r}")


def _read(path: Path | None) -> bytes:
    assert path is not None
    return path.read_bytes()


def _existing(path: Path | None) -> Path:
    assert path is not None
    return path


def _put(blobs: BlobStore, content_type: str, data: bytes) -> StoredValue:
    return StoredValue(blobs.put_bytes(data), content_type, len(data))


def _module_name(text: str) -> str:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return stripped  # our own encoding: the bare name
    try:
        value = json.loads(stripped)
    except ValueError as exc:
        raise WireError(f"a module/import value is not JSON ({exc})") from exc
    name = value.get("module_name") if isinstance(value, dict) else None
    if not isinstance(name, str) or not name:
        raise WireError("a module/import value has no module_name")
    return name


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError("not an envelope")


def _unwrap_envelope(data: bytes) -> bytes:
    """The payload of the original's `{tag, codec, payload}` envelope, else `data` as is.
    The envelope holds only a dict, strings and bytes, so an unpickler that refuses every
    global can open it; anything else is a plain pickle and is left alone."""
    try:
        value = _NoGlobals(io.BytesIO(data)).load()
    except Exception:
        return data
    if isinstance(value, dict) and value.keys() >= _ENVELOPE_KEYS and len(value) == 3:
        codec, payload = value.get("codec"), value.get("payload")
        if codec in ("pickle", "cloudpickle") and isinstance(payload, bytes):
            return payload  # both codecs' payloads load with pickle.loads
    return data


def is_our_arrow(data: Path | bytes) -> bool:
    """True when `data` is already our Arrow blob exactly (an IPC file with `strata.codec`
    metadata, none of the original's, one record batch), so it can be stored as it is.
    Cheap: only the footer, schema and batch 0's metadata are read, never the columns."""
    import pyarrow as pa

    try:
        if isinstance(data, bytes):
            if data[: len(_ARROW_FILE_MAGIC)] != _ARROW_FILE_MAGIC:
                return False
            source: Any = pa.BufferReader(data)
        else:
            with open(data, "rb") as handle:
                if handle.read(len(_ARROW_FILE_MAGIC)) != _ARROW_FILE_MAGIC:
                    return False
            source = pa.memory_map(str(data), "r")
        reader = pa.ipc.open_file(source)
        metadata = reader.schema.metadata or {}
        if _OUR_META not in metadata or any(k.startswith(b"strata.arrow.") for k in metadata):
            return False
        if reader.num_record_batches != 1:
            return False
        reader.get_batch(0).validate()
        json.loads(metadata[_OUR_META])
    except (pa.ArrowException, OSError, ValueError):
        return False
    return True


def _arrow_from_wire(
    blobs: BlobStore, name: str, raw: bytes | None, path: Path | None
) -> StoredValue:
    import pyarrow as pa

    if is_our_arrow(raw if raw is not None else _existing(path)):
        # Our own blob, from a strata worker or client: its bytes are the value, unchanged.
        if raw is not None:
            return _put(blobs, ARROW, raw)
        assert path is not None
        size = path.stat().st_size  # before put_file moves the file into the store
        return StoredValue(blobs.put_file(path), ARROW, size)
    source: Any = pa.BufferReader(raw) if raw is not None else pa.memory_map(str(path), "r")
    head = source.read(len(_ARROW_FILE_MAGIC))
    source.seek(0)
    try:
        if head == _ARROW_FILE_MAGIC:  # our own blob, from a strata worker or client
            table = pa.ipc.open_file(source).read_all()
        elif head[:1] == b"{":
            raise WireError(
                f"{name!r} arrived as the original's JSON stand-in for a table it could not "
                "write as Arrow, which this version does not read"
            )
        else:
            table = pa.ipc.open_stream(source).read_all()
    except pa.ArrowException as exc:
        raise WireError(f"{name!r} is not readable as Arrow IPC ({exc})") from exc
    metadata = table.schema.metadata or {}
    if _OUR_META in metadata and json.loads(metadata[_OUR_META]).get("kind") != "ndarray":
        return _store_our_table(blobs, table, metadata)
    try:
        return store_value(blobs, name, _rebuild(table, metadata))
    except Exception as exc:
        raise WireError(f"{name!r} cannot be rebuilt from its Arrow data ({exc})") from exc


def _store_our_table(
    blobs: BlobStore, table: pa.Table, metadata: dict[bytes, bytes]
) -> StoredValue:
    """Our blob exactly: one record batch (what our reader maps), our metadata, no theirs."""
    import pyarrow as pa

    from strata_engine.store.arrow_codec import write_ipc_file

    kept = {k: v for k, v in metadata.items() if not k.startswith(b"strata.arrow.")}
    # One batch: our reader maps batch 0 of a record_batch or ndarray value.
    batches = table.combine_chunks().to_batches() or [
        pa.RecordBatch.from_pylist([], schema=table.schema)
    ]
    data = pa.Table.from_batches(batches[:1]).replace_schema_metadata(kept)
    return write_ipc_file(blobs, data)


def _rebuild(table: pa.Table, metadata: dict[bytes, bytes]) -> object:
    """The value the original's reader would hand a cell (its `_deserialize_arrow`)."""
    import pyarrow as pa

    shape = metadata.get(_SHAPE, b"table")
    if shape == b"tensor":
        return _tensor(table, metadata)
    if shape == b"scalar":
        return _scalar(table, metadata)
    table = table.combine_chunks()
    source = metadata.get(_SOURCE, b"")
    theirs = {k: v for k, v in metadata.items() if k.startswith(b"strata.arrow.")}
    if source in (b"pyarrow.Table", b"arrow.capsule"):
        return table.replace_schema_metadata(_without(metadata, theirs))
    if source == b"pyarrow.RecordBatch":
        table = table.replace_schema_metadata(_without(metadata, theirs))
        batches = table.to_batches()
        return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)
    frame = table.to_pandas()
    if source == b"pandas.Series":
        series = frame.iloc[:, 0]
        raw_name = metadata.get(_SERIES_NAME, b"")
        try:
            series.name = json.loads(raw_name) if raw_name else None
        except ValueError:
            series.name = raw_name.decode("utf-8", errors="replace") or None
        return series
    return frame


def _without(metadata: dict[bytes, bytes], drop: dict[bytes, bytes]) -> dict[bytes, bytes] | None:
    kept = {k: v for k, v in metadata.items() if k not in drop}
    return kept or None


def _tensor(table: pa.Table, metadata: dict[bytes, bytes]) -> object:
    import numpy as np

    shape = tuple(json.loads(metadata.get(_TENSOR_SHAPE, b"[]")))
    dtype_text = metadata.get(_TENSOR_DTYPE, b"").decode("utf-8")
    flat = table.column(0).to_numpy(zero_copy_only=False)
    if dtype_text:
        target = np.dtype(dtype_text)
        if str(target) in _COMPLEX_VIEWS:
            flat = flat.astype(_COMPLEX_VIEWS[str(target)], copy=False).view(target)
        else:
            flat = flat.astype(target, copy=False)
    return np.ascontiguousarray(flat).reshape(shape)


def _scalar(table: pa.Table, metadata: dict[bytes, bytes]) -> object:
    raw = table.column(0)[0].as_py()
    kind = metadata.get(_SCALAR_TYPE, b"")
    if kind == b"uuid":
        from uuid import UUID

        return UUID(bytes=raw)
    if kind == b"complex":
        return complex(raw["real"], raw["imag"])
    return raw
