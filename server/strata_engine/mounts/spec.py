"""What a mount is once resolved for one cell, and what a CellJob carries to the executor.

Stdlib only: imported by every snapshot and every `strata run`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from strata_engine.model.diagnostics import Span

if TYPE_CHECKING:
    from strata_engine.analysis.annotation_types import MountSpec
    from strata_engine.model.manifest import MountEntry

ORIGINS = ("notebook", "cell", "annotation")
"""Where a cell's mount comes from: `[[mounts]]`, its `[[cells.mounts]]`, its `@mount`."""

SHAREABLE_OPTIONS = frozenset(
    {
        "endpoint_url",
        "anon",
        "profile",
        "region_name",
        "requester_pays",
        "use_ssl",
        "version_aware",
        "project",
        "account_name",
        "default_block_size",
    }
)
"""`[mounts.options]` keys a remote worker may be sent: where and how to reach the data,
never who you are (credentials come from the worker's own environment)."""

_SECRET = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL|SAS|CONNECTION_STRING", re.I)


@dataclass(frozen=True)
class CellMount:
    """One mount in effect for a cell (after merging by name; most specific wins)."""

    name: str
    uri: str
    mode: str
    """"ro" or "rw"."""
    pin: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    origin: str = "notebook"
    span: Span | None = None
    """The `@mount` value, for an annotation."""

    @property
    def scheme(self) -> str:
        return uri_scheme(self.uri)

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    def identity(self) -> str:
        """What names the data (and its local cache): the URI and how it is reached."""
        return json.dumps([self.uri, dict(self.options)], sort_keys=True, default=str)


@dataclass(frozen=True)
class JobMount:
    """A mount as a CellJob carries it; JSON for the cell process and remote workers."""

    name: str
    uri: str
    mode: str
    options: Mapping[str, Any] = field(default_factory=dict)
    cache: str | None = None
    """Absolute directory for the local copies (the notebook's `.strata/mounts`); None on a
    remote worker, which uses its per-user cache (`default_cache_root`)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "uri": self.uri, "mode": self.mode}
        if self.options:
            out["options"] = dict(self.options)
        if self.cache is not None:
            out["cache"] = self.cache
        return out

    def to_params(self) -> dict[str, Any]:
        """SPEC 13 `params.mounts` entry: no local cache path, no secret-looking option."""
        out: dict[str, Any] = {"name": self.name, "uri": self.uri, "mode": self.mode}
        options = shareable_options(self.options)
        if options:
            out["options"] = options
        return out

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> JobMount:
        options = value.get("options") or {}
        return cls(
            name=str(value["name"]),
            uri=str(value["uri"]),
            mode=str(value.get("mode") or "ro"),
            options=dict(options) if isinstance(options, Mapping) else {},
            cache=value.get("cache") if isinstance(value.get("cache"), str) else None,
        )


def shareable_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in SHAREABLE_OPTIONS and not _SECRET.search(k)}


def uri_scheme(uri: str) -> str:
    scheme, sep, _ = uri.partition("://")
    return scheme.lower() if sep else ""


def local_directory(uri: str, base: str | os.PathLike[str] | None = None) -> str:
    """The directory of a `file://` URI: `file:///data/x` is absolute; `file://data/x` and
    `file://./data` are relative to `base` (the notebook directory)."""
    parts = urlsplit(uri)
    host = "" if parts.netloc == "localhost" else parts.netloc
    path = unquote(host + parts.path)
    if base is not None and not os.path.isabs(path):
        path = os.path.join(base, path)
    return os.path.normpath(path)


def default_cache_root() -> str:
    """Where a worker with no notebook directory keeps mount copies: per user, reused
    across requests (`STRATA_MOUNT_CACHE` overrides)."""
    explicit = os.environ.get("STRATA_MOUNT_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "strata", "mounts")


def merge_mounts(
    *,
    notebook: Iterable[MountEntry],
    cell: Iterable[MountEntry],
    annotation: Iterable[MountSpec],
    reads: Collection[str],
) -> list[CellMount]:
    """A cell's mounts, sorted by name (see `Snapshot.mounts`). An `@mount` carries no
    options of its own: it takes those of the entry it shadows, else of a declared mount on
    the same scheme and bucket (so `endpoint_url` and friends are written once)."""
    declared: dict[str, CellMount] = {}
    for origin, entries in (("notebook", notebook), ("cell", cell)):
        for entry in entries:
            declared[entry.name] = CellMount(
                entry.name, entry.uri, entry.mode, entry.pin, entry.options, origin
            )
    merged = {name: m for name, m in declared.items() if name in reads}
    for spec in annotation:
        shadowed = declared.get(spec.name)
        if shadowed is None or _authority(shadowed.uri) != _authority(spec.uri):
            shadowed = next(
                (m for m in declared.values() if _authority(m.uri) == _authority(spec.uri)), None
            )
        options = shadowed.options if shadowed is not None else {}
        merged[spec.name] = CellMount(
            spec.name, spec.uri, spec.mode, None, options, "annotation", spec.span
        )
    return [merged[name] for name in sorted(merged)]


def _authority(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.scheme.lower(), parts.netloc
