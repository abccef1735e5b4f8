"""Records under `.strata/` that only this user's Strata wrote (issue [11]: speed).

Some work is kept between processes so the next command can skip it: notebook.toml's parse
(model/manifest_cache.py), a settled notebook's keys (run/settled.py). Such a record must
never be trusted when it was not written by this user's Strata for exactly the inputs at
hand: one committed to a repository or copied from another machine could otherwise make
Strata see another notebook than the one a reviewer reads.

A record is one header line (JSON: its format, the digest of the inputs it was made from,
and a MAC of that digest and the body under a secret of this user, `record_key`) and the
body. A record whose format, input digest or MAC does not match is ignored: a damaged or
truncated file costs the work it would have spared, nothing else. Written atomically (a
rename: `kill -9` leaves the old file or the new one), only into an existing `.strata/`
(looking at a notebook creates nothing).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

try:  # hashlib and hmac load OpenSSL (~3.5 ms of a cached `strata run`) for two functions
    # CPython also has without it
    from _blake2 import blake2b
    from _operator import _compare_digest as compare_digest
except ImportError:  # another interpreter
    from hashlib import blake2b
    from hmac import compare_digest  # type: ignore[no-redef]

from strata_engine.model.fsutil import atomic_write
from strata_engine.model.safe_read import FileRefused, read_regular_file

_KEY_BYTES = 32
_keys: dict[Path, bytes | None] = {}


def record_key() -> bytes | None:
    """This user's secret for records (`$XDG_CACHE_HOME/strata/record.key`, 0600, made on
    first use), or None when it cannot be read or made: then nothing is recorded or read."""
    path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "strata"
    path = path / "record.key"
    if path not in _keys:
        _keys[path] = _read_or_make_key(path)
    return _keys[path]


def _read_or_make_key(path: Path) -> bytes | None:
    for _ in range(2):  # read it, or make it; a racing maker's key wins
        try:
            key = read_regular_file(path, _KEY_BYTES)
            return key if len(key) == _KEY_BYTES else None
        except FileNotFoundError:
            pass
        except (OSError, FileRefused):
            return None
        # Written whole under another name, then linked into place (never replacing one):
        # a reader never sees a partial key, and kill -9 leaves at most the temporary file.
        staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(_KEY_BYTES))
            os.link(staging, path)
        except FileExistsError:
            continue
        except OSError:
            return None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(staging)
    return None


def _mac(key: bytes, inputs: str, body: bytes) -> str:
    mac = blake2b(inputs.encode() + b"\n", key=key, digest_size=16)
    mac.update(body)
    return mac.hexdigest()


def load(path: Path, fmt: str, inputs: str, max_bytes: int) -> bytes | None:
    """The body recorded at `path` in format `fmt` for the inputs digested as `inputs`, or
    None (no record, other inputs, another format, damaged, not signed by this user)."""
    key = record_key()
    if key is None:
        return None
    try:  # a FIFO or device planted there must not block or be read
        data = read_regular_file(path, max_bytes)
    except (OSError, FileRefused):
        return None
    head, newline, body = data.partition(b"\n")
    if not newline:
        return None
    try:
        header = json.loads(head)
    except ValueError:
        return None
    if (
        not isinstance(header, dict)
        or header.get("format") != fmt
        or header.get("text") != inputs
        or not isinstance(header.get("mac"), str)
        or not compare_digest(header["mac"], _mac(key, inputs, body))
    ):
        return None
    return body


def save(path: Path, fmt: str, inputs: str, body: bytes) -> bool:
    """Record `body` for `inputs` if `path`'s directory exists; False when nothing was
    written (no key, no directory, read-only notebook): the work is simply redone."""
    key = record_key()
    if key is None or not path.parent.is_dir():
        return False
    header = {"format": fmt, "text": inputs, "mac": _mac(key, inputs, body)}
    try:
        atomic_write(path, json.dumps(header).encode() + b"\n" + body, durable=False)
    except OSError:
        return False
    return True
