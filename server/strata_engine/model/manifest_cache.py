"""notebook.toml's parsed document kept between processes (issue [11]: 10,000 cells).

tomllib is pure Python: a 10,000-cell manifest takes ~0.7 s to parse, on every `strata`
command. `.strata/manifest.json` keeps the parsed document next to a digest of the exact
text it came from; the C JSON decoder reads it back in a few milliseconds. The manifest is
still read and hashed every time (never trusted by mtime): an edit of any byte changes
the digest, and the record is simply not used.

The record is one header line (JSON: format, digest of the manifest text, and a MAC of
that digest and the body under a secret of this user, `record_key`) and the body (the
document as JSON). A record whose text digest or MAC does not match, or that does not
decode, is ignored and rewritten after the next parse: a damaged or truncated file costs
one parse and is never trusted, and neither is a record this user's Strata did not write
(one committed to a repository or copied from another machine could otherwise make
Strata see another manifest than the notebook.toml a reviewer reads). Written atomically (a
rename: `kill -9` leaves the old file or the new one), only into an existing `.strata/`
(looking at a notebook creates nothing), and only for documents JSON holds exactly
(tables, arrays, strings, numbers, booleans): a manifest with a TOML date-time is parsed
every time.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path
from typing import Any

import xxhash

from strata_engine.model.fsutil import atomic_write
from strata_engine.model.safe_read import MAX_MANIFEST_BYTES, FileRefused, read_regular_file

FILE = "manifest.json"
FORMAT = f"strata-manifest-v1-py{sys.version_info[0]}.{sys.version_info[1]}"
"""The interpreter's minor version too: tomllib's reading of a text is its own."""
_MAX_DEPTH = 64
"""Deeper documents are not recorded (json's encoder and decoder recurse per level)."""


def _digest(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


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


def _mac(key: bytes, text_digest: str, body: bytes) -> str:
    mac = hashlib.blake2b(text_digest.encode() + b"\n", key=key, digest_size=16)
    mac.update(body)
    return mac.hexdigest()


def load(strata_dir: Path, text: str) -> dict[str, Any] | None:
    """The document recorded for exactly `text`, or None (no record, another text, damaged)."""
    key = record_key()
    if key is None:
        return None
    try:  # a FIFO or device planted there must not block or be read
        data = read_regular_file(strata_dir / FILE, 2 * MAX_MANIFEST_BYTES)
    except (OSError, FileRefused):
        return None
    head, newline, body = data.partition(b"\n")
    if not newline:
        return None
    try:
        header = json.loads(head)
        text_digest = _digest(text.encode("utf-8"))
        if (
            not isinstance(header, dict)
            or header.get("format") != FORMAT
            or header.get("text") != text_digest
            or not isinstance(header.get("mac"), str)
            or not hmac.compare_digest(header["mac"], _mac(key, text_digest, body))
        ):
            return None
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


_pending: dict[Path, tuple[str, dict[str, Any]]] = {}
"""Parses made before `.strata/` existed (a first run creates it after loading), by
directory: `save_pending` records them once it does, so the next run already reads one."""


def save(strata_dir: Path, text: str, document: dict[str, Any]) -> None:
    """Record `document` as the parse of `text`, if `.strata/` exists and JSON holds it."""
    key = record_key()
    if key is None or not _json_exact(document, 0):
        return
    if not strata_dir.is_dir():
        _pending[strata_dir] = (text, document)
        return
    _pending.pop(strata_dir, None)
    try:
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        text_digest = _digest(text.encode("utf-8"))
        header = {"format": FORMAT, "text": text_digest, "mac": _mac(key, text_digest, body)}
        record = json.dumps(header).encode() + b"\n" + body
        atomic_write(strata_dir / FILE, record, durable=False)  # a lost file is only reparsed
    except (OSError, ValueError):  # read-only notebook, unencodable text: parsed every time
        pass


def _json_exact(value: object, depth: int) -> bool:
    """Whether JSON gives back exactly `value` (same types and values)."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_exact(v, depth + 1) for v in value)
    return isinstance(value, str | int | float | bool)


def save_pending(strata_dir: Path) -> None:
    """Record the parse `save` could not write before `strata_dir` existed, if any."""
    pending = _pending.get(strata_dir)
    if pending is not None:
        save(strata_dir, *pending)
