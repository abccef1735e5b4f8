"""Executor protocol v1 constants and the output bundle (a tar) shared by worker and client.

The input formats are the engine's blob content types; the bytes on the wire are encoded as
the original Strata encodes them, which `wire` converts to and from our blobs.
"""

from __future__ import annotations

import io
import json
import keyword
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strata_engine.store.codecs import ARROW, JSON, MODULE, PICKLE, StoredValue

PROTOCOL_VERSION = "v1"
# The reference worker of the original Strata checks the notebook protocol's own name in
# `metadata`; a client of either may send either, so the worker accepts both.
NOTEBOOK_PROTOCOL_VERSION = "notebook-cell-v1"
ACCEPTED_PROTOCOL_VERSIONS = frozenset({PROTOCOL_VERSION, NOTEBOOK_PROTOCOL_VERSION})
TRANSFORM_REF = "notebook_cell@v1"
BUNDLE_SCHEMA = "notebook-output-bundle@v1"
EXECUTE_PATH = "/v1/execute"
HEALTH_PATH = "/health"
STRATA_BLOBS = "strata_blobs"
"""A feature in our worker's /health and a key in our client's `transform.params`: values
travel as this engine's blobs, byte for byte, instead of the original Strata's encodings
(`wire`). The original's worker never advertises it, and ignores the params key."""

MANIFEST_FILE = "manifest.json"
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
FILES_DIR = "files"

# The original Strata's extensions, so bundles from either side name files alike.
FORMAT_EXTENSIONS: Mapping[str, str] = {
    ARROW: ".arrow",
    JSON: ".json",
    PICKLE: ".pickle",
    MODULE: ".module.json",
}
FORMATS = frozenset(FORMAT_EXTENSIONS)


def is_variable_name(name: object) -> bool:
    """A name that may become a cell variable and a bundle file name: an identifier, ASCII
    (so no file system folds two names into one), not a keyword."""
    return (
        isinstance(name, str)
        and name.isascii()
        and name.isidentifier()
        and not keyword.iskeyword(name)
    )


def output_file(name: str, content_type: str) -> str:
    """The bundle member holding variable `name`; refuses names that could escape `files/`."""
    if not is_variable_name(name):
        raise ValueError(f"not a variable name: {name!r}")
    if content_type not in FORMAT_EXTENSIONS:
        raise ValueError(f"unknown content type {content_type!r} for {name!r}")
    return f"{FILES_DIR}/{name}{FORMAT_EXTENSIONS[content_type]}"


def is_safe_member(name: str) -> bool:
    """True for a bundle member name a reader may extract: relative, no `..`, no backslash."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


@dataclass
class BundleContent:
    """What goes into one bundle; `blob_paths` maps a variable to the file of its bytes."""

    success: bool
    outputs: Mapping[str, StoredValue]
    blob_paths: Mapping[str, Path]
    stdout: str = ""
    stderr: str = ""
    displays: Sequence[Mapping[str, str]] = ()
    error: str | None = None
    traceback: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def manifest_for(content: BundleContent, sizes: Mapping[str, int] | None = None) -> dict[str, Any]:
    """`sizes`: each variable's size as sent, when the wire re-encodes it (`wire.to_wire`)."""
    variables = {
        name: {
            "content_type": value.content_type,
            "file": output_file(name, value.content_type),
            "bytes": (sizes or {}).get(name, value.size),
        }
        for name, value in content.outputs.items()
    }
    return {
        "schema_version": BUNDLE_SCHEMA,
        # The original Strata's reader finds the console through these two names.
        "stdout_file": STDOUT_FILE,
        "stderr_file": STDERR_FILE,
        "success": content.success,
        "variables": variables,
        "displays": [dict(bundle) for bundle in content.displays],
        "error": content.error,
        "traceback": content.traceback,
        **content.extra,
    }


def write_bundle(content: BundleContent, destination: Path, *, strata_blobs: bool = False) -> None:
    """Write the bundle tar to `destination`; output bytes are copied from their blob files,
    never held in memory. They are re-encoded for the wire where the original Strata's
    encoding differs, unless `strata_blobs` (the client is ours and said it reads our blobs
    as they are: `STRATA_BLOBS`)."""
    from strata_engine.worker.wire import to_wire

    with tempfile.TemporaryDirectory(prefix="strata-wire-") as workdir:
        files = {
            name: content.blob_paths[name]
            if strata_blobs
            else to_wire(value.content_type, content.blob_paths[name], Path(workdir))
            for name, value in content.outputs.items()
        }
        manifest = manifest_for(content, {name: p.stat().st_size for name, p in files.items()})
        with tarfile.open(destination, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, STDOUT_FILE, content.stdout.encode("utf-8", "replace"))
            _add_bytes(tar, STDERR_FILE, content.stderr.encode("utf-8", "replace"))
            for name, entry in manifest["variables"].items():
                info = tar.gettarinfo(files[name], arcname=entry["file"])
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o644
                with open(files[name], "rb") as handle:
                    tar.addfile(info, handle)
            _add_bytes(tar, MANIFEST_FILE, json.dumps(manifest).encode("utf-8"))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
