"""The environment fingerprint (SPEC 7): the embedded interpreter and its installed packages.

On its own (not in provenance.py) so a settled notebook's record (run/settled.py) can bind
to it without importing the key's dataclasses.
"""

from __future__ import annotations

import os
import stat
import sys
import time

from strata_engine.cache.digests import digest_json

_RECHECK_S = 1.0
_fingerprint: tuple[float, tuple[tuple[str, int], ...], str] | None = None


def environment_fingerprint() -> str:
    """The embedded interpreter: its version plus every installed distribution and version.

    Distribution metadata directories are named `<name>-<version>.dist-info`, so listing the
    site directories gives the package set without importing `importlib.metadata` (which
    costs tens of milliseconds on every `strata run`). A long-lived process (the language
    server) sees a `pip install` too: at most once a second it compares the site
    directories' modification times and lists them again when one changed.
    """
    global _fingerprint
    now = time.monotonic()
    if _fingerprint is not None and now - _fingerprint[0] < _RECHECK_S:
        return _fingerprint[2]
    stamp = _site_stamp()
    if _fingerprint is not None and _fingerprint[1] == stamp:
        _fingerprint = (now, stamp, _fingerprint[2])
    else:
        _fingerprint = (now, stamp, _list_distributions([entry for entry, _ in stamp]))
    return _fingerprint[2]


def _site_stamp() -> tuple[tuple[str, int], ...]:
    stamp = []
    for entry in sys.path:
        if not entry:
            continue  # the current directory holds no installed distributions
        try:
            info = os.stat(entry)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            stamp.append((entry, info.st_mtime_ns))
    return tuple(stamp)


def _list_distributions(directories: list[str]) -> str:
    names: list[str] = []
    for entry in directories:
        try:
            listing = os.listdir(entry)
        except OSError:
            continue
        names.extend(n for n in listing if n.endswith((".dist-info", ".egg-info")))
    return digest_json([sys.version, sys.executable, sorted(names)])
