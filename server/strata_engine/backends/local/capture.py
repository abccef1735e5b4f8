"""Bounded capture of a cell's stdout or stderr in the engine process.

The engine keeps reading a stream after the bound is reached (so the cell never blocks on a
full pipe) but only counts what it drops, so memory stays bounded whatever the cell prints.
"""

from __future__ import annotations

import codecs

DEFAULT_LIMIT = 1 << 20


class BoundedText:
    """The first `limit` bytes of a byte stream as text, plus a marker for the rest."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self._limit = limit
        self._kept = 0
        self._dropped = 0
        self._parts: list[str] = []
        # Incremental: a UTF-8 character split across two reads must not become two U+FFFD.
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._finished = False

    @property
    def dropped(self) -> int:
        """Bytes dropped beyond the bound."""
        return self._dropped

    def feed(self, data: bytes) -> str:
        """Add bytes; returns the newly kept text (empty once the bound is reached)."""
        room = self._limit - self._kept
        keep = data[:room] if room > 0 else b""
        self._dropped += len(data) - len(keep)
        if not keep:
            return ""
        self._kept += len(keep)
        text = self._decoder.decode(keep)
        if text:
            self._parts.append(text)
        return text

    def finish(self) -> str:
        """End of stream; returns the final text chunk (a pending partial character or the
        truncation marker). Idempotent."""
        if self._finished:
            return ""
        self._finished = True
        if self._dropped:
            # A character cut in half by the bound is dropped rather than shown as U+FFFD.
            self._decoder.reset()
            tail = f"\n[... {human_size(self._dropped)} truncated]"
        else:
            tail = self._decoder.decode(b"", final=True)
        if tail:
            self._parts.append(tail)
        return tail

    def text(self) -> str:
        return "".join(self._parts)


def human_size(size: int) -> str:
    """12345678 -> '12.3 MB' (decimal units, as the marker is read by people)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"
