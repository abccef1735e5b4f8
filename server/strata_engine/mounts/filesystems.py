"""fsspec filesystems by mount URI scheme (imported only where a remote mount is used).

A scheme whose package is not installed is an error that says what to install, never a
fallback: a mount that silently read nothing would be cached as if it had read the data.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any, NamedTuple

from strata_engine.mounts.spec import uri_scheme


class MountError(Exception):
    """A mount cannot be used as written; the message says why and how to fix it."""


class _Scheme(NamedTuple):
    protocol: str
    package: str
    extra: str


SCHEMES: Mapping[str, _Scheme] = {
    "s3": _Scheme("s3", "s3fs", "s3"),
    "gs": _Scheme("gcs", "gcsfs", "gcs"),
    "gcs": _Scheme("gcs", "gcsfs", "gcs"),
    "az": _Scheme("abfs", "adlfs", "azure"),
    "azure": _Scheme("abfs", "adlfs", "azure"),
}
"""Remote schemes of SPEC 2; `file://` never goes through fsspec."""


def open_filesystem(uri: str, options: Mapping[str, Any]) -> tuple[Any, str]:
    """(fsspec filesystem, root path inside it without a trailing slash) for a remote URI."""
    scheme = uri_scheme(uri)
    spec = SCHEMES.get(scheme)
    if spec is None:
        raise MountError(f"mount URI {uri!r}: scheme {scheme!r} is not a remote mount scheme")
    if importlib.util.find_spec(spec.package) is None:
        raise MountError(
            f"mount URI {uri!r} needs the {spec.package} package, which is not installed: "
            f"pip install 'strata-vscode-server[{spec.extra}]'"
        )
    import fsspec

    kwargs = _adapt(spec.protocol, dict(options))
    try:
        fs = fsspec.filesystem(spec.protocol, **kwargs)
    except Exception as exc:
        raise MountError(f"mount URI {uri!r}: cannot open {spec.package}: {exc}") from exc
    root = uri.split("://", 1)[1].strip("/")
    if not root:
        raise MountError(f"mount URI {uri!r} names no bucket or container; add one")
    return fs, root


def _adapt(protocol: str, options: dict[str, Any]) -> dict[str, Any]:
    """`[mounts.options]` as the filesystem's constructor wants them."""
    if protocol == "s3" and "endpoint_url" in options:
        # Older s3fs only reads the endpoint from client_kwargs; newer accepts both.
        client = dict(options.pop("client_kwargs", None) or {})
        client.setdefault("endpoint_url", options.pop("endpoint_url"))
        options["client_kwargs"] = client
    if protocol == "gcs" and options.pop("anon", False):
        options.setdefault("token", "anon")
    return options
