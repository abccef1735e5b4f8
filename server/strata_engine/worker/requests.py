"""From a multipart body to a validated ExecuteRequest (SPEC 13); anything else is a 400."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strata_engine.mounts.filesystems import SCHEMES
from strata_engine.mounts.spec import JobMount, shareable_options, uri_scheme
from strata_engine.worker.bundle import (
    ACCEPTED_PROTOCOL_VERSIONS,
    FORMATS,
    PROTOCOL_VERSION,
    STRATA_BLOBS,
    TRANSFORM_REF,
    is_variable_name,
)
from strata_engine.worker.multipart import Part, RequestError, parse_multipart

DEFAULT_TIMEOUT = 300.0
MAX_TIMEOUT = 86400.0
METADATA_PART = "metadata"
MAX_METADATA_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class InputValue:
    name: str
    format: str
    data: bytes


@dataclass(frozen=True)
class ExecuteRequest:
    source: str
    timeout: float
    env: Mapping[str, str]
    inputs: tuple[InputValue, ...]
    mounts: tuple[JobMount, ...] = ()
    strata_blobs: bool = False
    """The client is ours: inputs are our blobs as they are, and outputs go back as ours."""


def parse_execute(body: bytes, content_type: str, *, max_part_bytes: int) -> ExecuteRequest:
    parts = parse_multipart(body, content_type, max_part_bytes=max_part_bytes)
    metadata = _metadata(parts.get(METADATA_PART))
    _check_protocol(metadata)
    params = _object(metadata["transform"].get("params", {}), "transform.params")
    source = params.get("source")
    if not isinstance(source, str):
        raise RequestError(400, "transform.params.source must be a string")
    return ExecuteRequest(
        source=source,
        timeout=_timeout(params.get("timeout_seconds")),
        env=_env(params.get("env") or {}),
        inputs=_inputs(metadata.get("inputs") or [], parts),
        mounts=_mounts(params.get("mounts") or []),
        strata_blobs=params.get(STRATA_BLOBS) is True,
    )


def _metadata(part: Part | None) -> dict[str, Any]:
    # A file part (what the reference client sends) and a plain field are the same bytes.
    if part is None:
        raise RequestError(400, "missing the 'metadata' part (JSON, see executor protocol v1)")
    if len(part.data) > MAX_METADATA_BYTES:
        raise RequestError(413, f"metadata exceeds {MAX_METADATA_BYTES} bytes")
    try:
        value = json.loads(part.data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RequestError(400, f"metadata is not valid JSON: {exc}") from None
    return _object(value, "metadata")


def _check_protocol(metadata: dict[str, Any]) -> None:
    version = metadata.get("protocol_version")
    if version not in ACCEPTED_PROTOCOL_VERSIONS:
        raise RequestError(
            400,
            f"unsupported protocol_version {version!r}; this worker speaks {PROTOCOL_VERSION!r}",
        )
    transform = _object(metadata.get("transform"), "transform")
    if transform.get("ref") != TRANSFORM_REF:
        raise RequestError(
            400, f"unsupported transform.ref {transform.get('ref')!r}; expected {TRANSFORM_REF!r}"
        )


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RequestError(400, f"{what} must be a JSON object")
    return value


def _mounts(value: object) -> tuple[JobMount, ...]:
    """Remote mounts only: a `file://` path names a directory on the client's machine, which
    this worker must never read or write (SPEC 13). The cache stays the worker's own."""
    if not isinstance(value, list):
        raise RequestError(400, "transform.params.mounts must be a list")
    mounts: dict[str, JobMount] = {}
    for item in value:
        spec = _object(item, "each mount")
        name, uri, mode = spec.get("name"), spec.get("uri"), spec.get("mode", "ro")
        if not is_variable_name(name):
            raise RequestError(400, f"mount name {name!r} is not a Python identifier")
        assert isinstance(name, str)
        if not isinstance(uri, str) or not uri:
            raise RequestError(400, f"mount {name!r}: uri must be a string")
        scheme = uri_scheme(uri)
        if scheme == "file" or uri.lower().startswith("file:"):
            raise RequestError(
                400,
                f"mount {name!r}: file:// mounts are refused by a remote worker ({uri!r}); "
                "mount the data from s3://, gs:// or az:// instead",
            )
        if scheme not in SCHEMES:
            raise RequestError(400, f"mount {name!r}: unsupported URI scheme in {uri!r}")
        if mode not in ("ro", "rw"):
            raise RequestError(400, f"mount {name!r}: mode must be 'ro' or 'rw', not {mode!r}")
        options = _object(spec.get("options") or {}, f"mount {name!r} options")
        if name in mounts:
            raise RequestError(400, f"mount {name!r} is given twice")
        # Never a cache path from the request (only the worker decides where it writes), and
        # only the options that say where the data is: credentials are the worker's own.
        mounts[name] = JobMount(name, uri, str(mode), shareable_options(options))
    return tuple(mounts.values())


def _timeout(value: object) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(400, "transform.params.timeout_seconds must be a number")
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_TIMEOUT:
        raise RequestError(400, f"timeout_seconds must be in (0, {MAX_TIMEOUT:g}], got {value!r}")
    return seconds


def _env(value: object) -> dict[str, str]:
    env = _object(value, "transform.params.env")
    for key, item in env.items():
        if not key or "=" in key or "\x00" in key or not isinstance(item, str) or "\x00" in item:
            raise RequestError(400, f"env entry {key!r} must be a NAME without '=' and a string")
    return env


def _inputs(value: object, parts: Mapping[str, Part]) -> tuple[InputValue, ...]:
    if not isinstance(value, list):
        raise RequestError(400, "inputs must be a list")
    inputs: dict[str, InputValue] = {}
    for item in value:
        spec = _object(item, "each input")
        name, fmt, file = spec.get("name"), spec.get("format"), spec.get("file")
        if not is_variable_name(name):
            raise RequestError(400, f"input name {name!r} is not a Python identifier")
        assert isinstance(name, str)
        if fmt not in FORMATS:
            raise RequestError(
                400, f"input {name!r}: format {fmt!r} is not one of {sorted(FORMATS)}"
            )
        # `file` is only ever a key into the request's parts, never a path.
        part = parts.get(file) if isinstance(file, str) and file != METADATA_PART else None
        if part is None:
            raise RequestError(400, f"input {name!r}: no multipart part named {file!r}")
        if name in inputs:
            raise RequestError(400, f"input {name!r} is given twice")
        inputs[name] = InputValue(name, str(fmt), part.data)
    return tuple(inputs.values())
