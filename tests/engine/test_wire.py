"""worker/wire.py: every value our store holds survives our blob -> the original Strata's wire
encoding -> our blob, and the original's own encodings (its pickle envelope, a module as JSON)
are read. The live check against the original's code is test_interop_original.py."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from strata_engine.store import BlobStore, load_value, store_value
from strata_engine.worker.wire import WireError, from_wire, to_wire


@pytest.mark.parametrize(
    "value",
    [
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        pd.Series([1.5, 2.5], name="w"),
        np.arange(6).reshape(2, 3, order="F"),
        pa.table({"x": [1]}),
        pa.record_batch([pa.array([1, 2])], names=["y"]),
        (1, {2}),
        {"k": [1, None]},
        json,
    ],
    ids=["frame", "series", "ndarray", "table", "batch", "pickle", "json", "module"],
)
def test_values_round_trip_through_the_wire(value: object, tmp_path: Path) -> None:
    ours, theirs = BlobStore(tmp_path / "ours"), BlobStore(tmp_path / "theirs")
    stored = store_value(ours, "v", value)
    sent = to_wire(stored.content_type, ours.path(stored.digest), tmp_path)
    back = load_value(theirs, from_wire(theirs, "v", stored.content_type, sent.read_bytes()))
    if isinstance(value, pd.DataFrame | pd.Series):
        assert type(back) is type(value) and back.equals(value)
    elif isinstance(value, np.ndarray):
        assert isinstance(back, np.ndarray) and (back == value).all()
    elif isinstance(value, pa.Table | pa.RecordBatch):
        assert type(back) is type(value) and back.equals(value)
    else:
        assert back == value


def test_the_originals_encodings_are_read(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    envelope = pickle.dumps(
        {"__tag__": "env", "codec": "cloudpickle", "payload": pickle.dumps((3, 4))}
    )
    assert load_value(blobs, from_wire(blobs, "p", "pickle/object", envelope)) == (3, 4)
    module = from_wire(blobs, "m", "module/import", b'{"module_name": "json"}')
    assert load_value(blobs, module) is json
    table = pa.table({"a": [1, 2]}).replace_schema_metadata(
        {b"strata.arrow.shape": b"table", b"strata.arrow.source": b"pandas.DataFrame"}
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    frame = load_value(blobs, from_wire(blobs, "f", "arrow/ipc", sink.getvalue().to_pybytes()))
    assert isinstance(frame, pd.DataFrame) and frame["a"].tolist() == [1, 2]
    with pytest.raises(WireError, match="'g' is not readable as Arrow IPC"):
        from_wire(blobs, "g", "arrow/ipc", b"not arrow at all")
