"""Sessions for tool calls. By default each call opens a `Session` and closes it, so a
process that calls tools now and then (the language server, which has its own sessions)
keeps no cell worker alive. A long-lived agent server (`strata mcp`) calls `keep_warm()`:
one session per notebook stays open, so a snippet that executes finds the warm worker
(its imports done) instead of starting one per call.

A kept session re-reads the notebook from disk and forgets memoized store lookups at every
call: agents, editors and other processes change both between calls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from strata_engine.run.session import Session

_guard = threading.Lock()
_kept: dict[Path, tuple[Session, threading.Lock]] | None = None


def keep_warm() -> None:
    """From now on, keep one session per notebook open until `close_sessions()`."""
    global _kept
    with _guard:
        if _kept is None:
            _kept = {}


def close_sessions() -> None:
    """Close every kept session (their warm workers stop) and go back to one per call."""
    global _kept
    with _guard:
        kept, _kept = _kept or {}, None
    for session, lock in kept.values():
        with lock:
            session.close()


@contextmanager
def open_session(directory: Path) -> Iterator[Session]:
    """A session of `directory`, used by one call at a time."""
    with _guard:
        kept = _kept
        entry = kept.get(directory) if kept is not None else None
        if kept is not None and entry is None:
            entry = kept[directory] = (Session(directory), threading.Lock())
    if entry is None:
        with Session(directory) as session:
            yield session
        return
    session, lock = entry
    with lock:
        session.reload()
        session.forget_lookups()
        yield session
