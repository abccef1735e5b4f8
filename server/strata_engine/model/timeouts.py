"""What a valid timeout is (SPEC 4 and 11): a finite number of seconds, 0 < t <= 86400.

One owner for the rule so the `@timeout` annotation, the manifest's notebook default and cell
entries, `strata validate` and `strata run --timeout` can never disagree. Anything else is
refused up front: NaN would mean "no timeout at all", infinity or a 400-digit integer
overflows where the limit is turned into a deadline, and zero or a negative value would kill
the cell at once.
"""

from __future__ import annotations

import math
import re

MAX_TIMEOUT = 86400.0
"""A day: longer work belongs on a worker with its own scheduler."""

# ASCII only: `float()` also accepts fullwidth and other Unicode digits ("５"), which no
# editor shows as a number a user meant to type.
_NUMBER_TEXT = re.compile(r"[+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)

TIMEOUT_RULE = f"a number of seconds greater than 0 and at most {MAX_TIMEOUT:g}"


def valid_timeout(value: object) -> float | None:
    """`value` as seconds when it is a valid timeout, else None.

    Only real ints and floats count: a bool is an int to Python but never a duration, and
    text must go through `parse_timeout_text` so its spelling is checked too."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and value > MAX_TIMEOUT:
        return None  # before float(): a 400-digit integer would overflow
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_TIMEOUT:
        return None
    return seconds


def parse_timeout_text(text: str) -> float | None:
    """A timeout written as text (`@timeout 30`, `--timeout 2.5`), else None.
    Plain ASCII decimal notation only: no nan/inf words, no Unicode digits, no underscores."""
    stripped = text.strip()
    if len(stripped) > 64 or not _NUMBER_TEXT.fullmatch(stripped):
        return None
    try:
        return valid_timeout(float(stripped))
    except (ValueError, OverflowError):
        return None
