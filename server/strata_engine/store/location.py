"""Which module opens a store, by the scheme of its location (SPEC 2 `[cache] store`).

Adding a kind of store is one module providing a `StoreOpener` and one `register` line
below. Shared stores (s3, gs, azure) are registered as not available until their fsspec
module exists: naming one fails clearly instead of silently caching somewhere else.
"""

from __future__ import annotations

import re

from strata_engine.model.manifest import shared_store_unavailable
from strata_engine.store.local import LocalStores
from strata_engine.store.protocol import Store, StoreError, StoreOpener

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


def open_store(location: str, *, writable: bool) -> Store:
    """Open the store at `location`. Raises `StoreError` with what to do about it."""
    scheme = scheme_of(location)
    opener = _OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}://" for s in sorted(_OPENERS) if s)
        raise StoreError(
            f"[cache] store {location!r}: unknown scheme {scheme}://; use a directory path "
            f"or one of {known}"
        )
    return opener.open(location, writable=writable)


class NotAvailable:
    """A kind of store this version does not include."""

    def open(self, location: str, *, writable: bool) -> Store:
        # The same words `validate` reports for this manifest (one message, one place).
        raise StoreError(shared_store_unavailable(location))


register(LocalStores(), "", "file")
register(NotAvailable(), "s3", "gs", "gcs", "az", "azure")
