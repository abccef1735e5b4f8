"""The digests keys are made of: xxh3-128 over text, or over a canonical JSON of a value.

On their own (not in provenance.py) so what only needs a digest, like a settled notebook's
record (run/settled.py), does not build the key's dataclasses on import.
"""

from __future__ import annotations

import json

import xxhash


def digest_text(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
"""What `json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)` builds on
every call: built once, so a 10,000-cell notebook's keys spare 20,000 encoder objects."""


def digest_json(value: object) -> str:
    return digest_text(_CANONICAL.encode(value))
