"""Which module opens a store, by the scheme of its location (SPEC 2 `[cache] store`).

Adding a kind of store is one module providing a `StoreOpener` and one `register` line
below. Shared stores go through fsspec (`shared.py`); a scheme whose fsspec driver is not
installed fails with the extra to install, never silently caching somewhere else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strata_engine.store.local import LocalStores
from strata_engine.store.protocol import Store, StoreError, StoreOpener
from strata_engine.store.shared import S3_DEFAULTS, FsspecStores

_OPENERS: dict[str, StoreOpener] = {}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def register(opener: StoreOpener, *schemes: str) -> None:
    """Open locations with these schemes (`""`: a plain path) with `opener`."""
    for scheme in schemes:
        _OPENERS[scheme] = opener


def scheme_of(location: str) -> str:
    """ "s3" for "s3://bucket/x"; "" for a plain path."""
    match = _SCHEME.match(location)
    return match.group(1).lower() if match else ""


def open_store(
    location: str,
    *,
    writable: bool,
    options: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
) -> Store:
    """Open the store at `location`. Raises `StoreError` with what to do about it."""
    opener = _opener(location)
    return opener.open(location, writable=writable, options=options or {}, cache_dir=cache_dir)


def store_refusal(location: str, options: Mapping[str, Any] | None = None) -> str | None:
    """Why this installation cannot open `location` (no network, nothing created); None if
    it may. `validate` reports it with the words a run would fail with."""
    try:
        opener = _opener(location)
    except StoreError as exc:
        return str(exc)
    return opener.refusal(location, options or {})


def _opener(location: str) -> StoreOpener:
    scheme = scheme_of(location)
    opener = _OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}://" for s in sorted(_OPENERS) if s)
        raise StoreError(
            f"[cache] store {location!r}: unknown scheme {scheme}://; use a directory path "
            f"or one of {known}"
        )
    return opener


register(LocalStores(), "", "file")
register(
    FsspecStores("s3", package="s3fs", extra="s3", defaults=S3_DEFAULTS, driver_retries=1), "s3"
)
register(FsspecStores("gs", package="gcsfs", extra="gcs"), "gs")
register(FsspecStores("gcs", package="gcsfs", extra="gcs"), "gcs")
register(FsspecStores("az", package="adlfs", extra="azure"), "az")
register(FsspecStores("az", package="adlfs", extra="azure"), "azure")
