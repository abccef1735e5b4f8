"""notebook.toml's parsed document kept between processes (issue [11]: 10,000 cells).

tomllib is pure Python: a 10,000-cell manifest takes ~0.7 s to parse, on every `strata`
command. `.strata/manifest.json` keeps the parsed document next to a digest of the exact
text it came from; the C JSON decoder reads it back in a few milliseconds. The manifest is
still read and hashed every time (never trusted by mtime): an edit of any byte changes
the digest, and the record is simply not used.

The record is signed for this user and the manifest text's digest (model/signed_record.py):
a record whose digest or MAC does not match, or that does not decode, is ignored and
rewritten after the next parse. Only documents JSON holds exactly are recorded (tables,
arrays, strings, numbers, booleans): a manifest with a TOML date-time is parsed every time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import xxhash

from strata_engine.model import signed_record
from strata_engine.model.safe_read import MAX_MANIFEST_BYTES

FILE = "manifest.json"
FORMAT = f"strata-manifest-v1-py{sys.version_info[0]}.{sys.version_info[1]}"
"""The interpreter's minor version too: tomllib's reading of a text is its own."""
_MAX_DEPTH = 64
"""Deeper documents are not recorded (json's encoder and decoder recurse per level)."""


def _digest(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def load(strata_dir: Path, text: str) -> dict[str, Any] | None:
    """The document recorded for exactly `text`, or None (no record, another text, damaged)."""
    body = signed_record.load(
        strata_dir / FILE, FORMAT, _digest(text.encode("utf-8")), 2 * MAX_MANIFEST_BYTES
    )
    if body is None:
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


_pending: dict[Path, tuple[str, dict[str, Any]]] = {}
"""Parses made before `.strata/` existed (a first run creates it after loading), by
directory: `save_pending` records them once it does, so the next run already reads one."""


def save(strata_dir: Path, text: str, document: dict[str, Any]) -> None:
    """Record `document` as the parse of `text`, if `.strata/` exists and JSON holds it."""
    if signed_record.record_key() is None or not _json_exact(document, 0):
        return
    if not strata_dir.is_dir():
        _pending[strata_dir] = (text, document)
        return
    _pending.pop(strata_dir, None)
    try:
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except ValueError:  # unencodable text: parsed every time
        return
    signed_record.save(strata_dir / FILE, FORMAT, _digest(text.encode("utf-8")), body)


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
