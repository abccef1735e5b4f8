"""Reading a worker's answer, a `notebook-output-bundle@v1` tar (SPEC 13), without trusting it.

Nothing is extracted to disk by name: members are looked up in the archive's index, only
regular files are read, every size is bounded, and a member whose name would leave the
bundle (absolute, `..`, a link) makes the whole bundle malformed. Variable bytes go straight
into the local BlobStore, re-encoded from the wire's encoding (`worker.wire`): the original
Strata's worker writes Arrow streams, enveloped pickles and modules as JSON.

What the original's bundles add is tolerated: a variable it could not serialize (`{"error"}`),
content types this engine has no codec for (a markdown or PNG value, a folder), and displays
written as files (`{"content_type", "file"}`), which become mime bundles.
"""

from __future__ import annotations

import base64
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strata_engine.store import BlobStore, StoredValue

SCHEMA = "notebook-output-bundle@v1"
FORMATS = frozenset({"arrow/ipc", "json/object", "pickle/object", "module/import"})
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_CONSOLE_BYTES = 16 * 1024 * 1024
_COPY_CHUNK = 1024 * 1024


class MalformedBundle(Exception):
    """The worker answered 200 with something that is not a usable output bundle."""


@dataclass
class Bundle:
    success: bool
    outputs: dict[str, StoredValue] = field(default_factory=dict)
    displays: list[dict[str, str]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    traceback: str | None = None
    unreadable: dict[str, str] = field(default_factory=dict)
    """name -> why a variable the cell publishes came back unusable (the worker's own error
    for it, or a content type this engine cannot decode)."""


def read_bundle(fileobj: IO[bytes], blobs: BlobStore, wanted: frozenset[str]) -> Bundle:
    """Parse the tar in `fileobj`; store the variables named in `wanted` as blobs."""
    try:
        with tarfile.open(fileobj=fileobj, mode="r:*") as archive:
            members = _index(archive)
            manifest = _manifest(archive, members)
            bundle = Bundle(
                success=manifest.get("success") is True,
                displays=_displays(archive, members, manifest.get("displays")),
                stdout=_console(archive, members.get("stdout.txt")),
                stderr=_console(archive, members.get("stderr.txt")),
                error=_optional_text(manifest.get("error"), "error"),
                traceback=_optional_text(manifest.get("traceback"), "traceback"),
            )
            if bundle.success:
                bundle.outputs, bundle.unreadable = _store_variables(
                    archive, members, manifest, blobs, wanted
                )
            return bundle
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise MalformedBundle(f"the answer is not a readable tar archive ({exc})") from exc


def _index(archive: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    for member in archive.getmembers():
        name = _safe_name(member.name)
        if member.isdir():
            continue
        if not member.isfile():
            raise MalformedBundle(f"member {member.name!r} is not a regular file")
        if name in members:
            raise MalformedBundle(f"member {member.name!r} appears twice")
        members[name] = member
    return members


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    parts = [p for p in path.parts if p != "."]
    if path.is_absolute() or "\\" in name or ".." in parts or not parts or "\0" in name:
        raise MalformedBundle(f"member name {name!r} leaves the bundle")
    return "/".join(parts)


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo, limit: int, what: str) -> bytes:
    if member.size > limit:
        raise MalformedBundle(f"{what} is {member.size} bytes, over the {limit}-byte limit")
    handle = archive.extractfile(member)
    if handle is None:
        raise MalformedBundle(f"{what} cannot be read")
    with handle:
        return handle.read(limit + 1)[:limit]


def _manifest(archive: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo]) -> dict[str, Any]:
    member = members.get("manifest.json")
    if member is None:
        raise MalformedBundle("manifest.json is missing")
    try:
        manifest = json.loads(_read(archive, member, MAX_MANIFEST_BYTES, "manifest.json"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBundle(f"manifest.json is not JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise MalformedBundle("manifest.json is not a JSON object")
    if manifest.get("schema_version") != SCHEMA:
        found = manifest.get("schema_version")
        raise MalformedBundle(f"manifest.json has schema_version {found!r}, expected {SCHEMA!r}")
    return manifest


def _console(archive: tarfile.TarFile, member: tarfile.TarInfo | None) -> str:
    if member is None:
        return ""
    handle = archive.extractfile(member)
    if handle is None:
        return ""
    with handle:
        # Console text is bounded, not refused: the tail of a chatty cell is not worth failing.
        return handle.read(MAX_CONSOLE_BYTES).decode("utf-8", errors="replace")


def _optional_text(value: object, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise MalformedBundle(f"manifest.json's {what} is not a string")


def _displays(
    archive: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo], value: object
) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedBundle("manifest.json's displays is not a list")
    displays: list[dict[str, str]] = []
    for item in value:
        if not isinstance(item, dict) or "error" in item:
            continue
        if isinstance(item.get("content_type"), str):  # the original's: a serialized value
            bundle = _file_display(archive, members, item)
        else:  # ours: a mime bundle
            bundle = {k: v for k, v in item.items() if isinstance(k, str) and isinstance(v, str)}
        if bundle:
            displays.append(bundle)
    return displays


def _file_display(
    archive: tarfile.TarFile, members: Mapping[str, tarfile.TarInfo], item: dict[str, Any]
) -> dict[str, str]:
    """A mime bundle for one of the original's displays: PNG and markdown from their file,
    anything else (a table, a JSON value) as its preview text."""
    content_type, file = item["content_type"], item.get("file")
    member = members.get(_safe_name(file)) if isinstance(file, str) else None
    if content_type in ("image/png", "text/markdown") and member is not None:
        data = _read(archive, member, MAX_MANIFEST_BYTES, f"display {file!r}")
        if content_type == "image/png":
            return {"image/png": base64.b64encode(data).decode("ascii")}
        return {"text/markdown": data.decode("utf-8", errors="replace")}
    preview = item.get("preview")
    if preview is None:
        return {}
    text = preview if isinstance(preview, str) else json.dumps(preview, default=str)
    return {"text/plain": text}


def _store_variables(
    archive: tarfile.TarFile,
    members: Mapping[str, tarfile.TarInfo],
    manifest: Mapping[str, Any],
    blobs: BlobStore,
    wanted: frozenset[str],
) -> tuple[dict[str, StoredValue], dict[str, str]]:
    variables = manifest.get("variables") or {}
    if not isinstance(variables, dict):
        raise MalformedBundle("manifest.json's variables is not an object")
    outputs: dict[str, StoredValue] = {}
    unreadable: dict[str, str] = {}
    for name, spec in variables.items():
        if name not in wanted:
            continue  # the analysis decides what a cell publishes, not the worker
        if isinstance(spec, dict) and "error" in spec:  # the worker could not serialize it
            unreadable[name] = str(spec["error"])[:500]
            continue
        content_type = spec.get("content_type") if isinstance(spec, dict) else None
        if isinstance(content_type, str) and content_type not in FORMATS:
            unreadable[name] = f"its content type {content_type!r} has no codec here"
            continue
        content_type, member = _variable_member(name, spec, members)
        outputs[name] = _store_member(archive, member, blobs, name, content_type)
    return outputs, unreadable


def _variable_member(
    name: str, spec: object, members: Mapping[str, tarfile.TarInfo]
) -> tuple[str, tarfile.TarInfo]:
    if not isinstance(spec, dict):
        raise MalformedBundle(f"variable {name!r} is not described by an object")
    content_type, file = spec.get("content_type"), spec.get("file")
    if content_type not in FORMATS:
        raise MalformedBundle(f"variable {name!r} has unknown content_type {content_type!r}")
    if not isinstance(file, str):
        raise MalformedBundle(f"variable {name!r} names no file")
    path = _safe_name(file)
    member = members.get(path) or members.get(f"files/{path}")
    if member is None:
        raise MalformedBundle(f"variable {name!r} names file {file!r}, which is not in the bundle")
    size = spec.get("bytes")
    if size is not None and size != member.size:
        raise MalformedBundle(
            f"variable {name!r} declares {size} bytes; its file has {member.size}"
        )
    return str(content_type), member


def _store_member(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    blobs: BlobStore,
    name: str,
    content_type: str,
) -> StoredValue:
    from strata_engine.worker.wire import WireError, from_wire

    handle = archive.extractfile(member)
    if handle is None:
        raise MalformedBundle(f"member {member.name!r} cannot be read")
    temp = blobs.new_temp_path()
    try:
        with handle, open(temp, "wb") as out:
            while chunk := handle.read(_COPY_CHUNK):
                out.write(chunk)
        return from_wire(blobs, name, content_type, temp)
    except WireError as exc:
        raise MalformedBundle(f"variable {exc}") from exc
    finally:
        # from_wire moved it into the store (JSON) or read it into a new blob (the rest).
        temp.unlink(missing_ok=True)
