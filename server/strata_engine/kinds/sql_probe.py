"""The live part of a SQL cell's key (SPEC 9 `@cache`), computed on the engine side.

- `fingerprint` (default for read cells): the driver's cheap probe of what the query reads
  (file stats for SQLite/DuckDB, statistics counters for PostgreSQL);
- `session` (default for write cells, whose own write would change a fingerprint): a nonce
  drawn once per engine process (one `strata run`, one language server);
- `ttl=SECONDS`: the current time bucket;
- `forever`: nothing.

Probes never run cell code and are read-only. Those that need a connection (PostgreSQL) are
memoized for `max_age` seconds, so the editor's per-keystroke states reuse a recent answer
while a run asks again (`max_age=0`). A probe that fails yields `unavailable:...`: the cell
looks stale and its run reports the real error.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import xxhash

from strata_engine.kinds.sql_drivers import ConnectionConfig, driver_for

SESSION_NONCE = uuid.uuid4().hex
"""Drawn once per engine process: `@cache session` entries live as long as it does."""

EDITOR_MAX_AGE = 5.0
"""The oldest probe answer a key may use (the editor passes a longer mount age)."""

FILE_DRIVERS = frozenset({"sqlite", "duckdb"})
"""Drivers whose probe is a few stats: always fresh, never memoized."""

_memo: dict[str, tuple[float, str]] = {}
_memo_lock = threading.Lock()


def effective_policy(policy: str | None, write: bool) -> str:
    return policy or ("session" if write else "fingerprint")


def live_token(
    policy: str,
    ttl: float | None,
    config: ConnectionConfig | None,
    base: str,
    sql: str,
    *,
    max_age: float,
    now: float | None = None,
) -> str:
    """What enters the key for `policy` right now."""
    if policy == "forever":
        return "forever"
    if policy == "session":
        return f"session:{SESSION_NONCE}"
    if policy == "ttl":
        seconds = ttl or 1.0
        return f"ttl:{int((now if now is not None else time.time()) // seconds)}"
    if config is None:
        return "unavailable:connection not declared"
    return _fingerprint(config, base, sql, max_age)


def _fingerprint(config: ConnectionConfig, base: str, sql: str, max_age: float) -> str:
    driver = driver_for(config.driver)
    if driver is None:
        return f"unavailable:unknown driver {config.driver!r}"
    if config.driver in FILE_DRIVERS:
        return _probe(config, base, sql)
    memo_key = _digest([config.to_json(), base, sql])
    with _memo_lock:
        known = _memo.get(memo_key)
    if known is not None and time.monotonic() - known[0] <= min(max_age, EDITOR_MAX_AGE):
        return known[1]
    token = _probe(config, base, sql)
    with _memo_lock:
        _memo[memo_key] = (time.monotonic(), token)
    return token


def _probe(config: ConnectionConfig, base: str, sql: str) -> str:
    driver = driver_for(config.driver)
    assert driver is not None
    try:
        return "probe:" + _digest(driver.probe(config, base, sql))
    except Exception as exc:  # unreachable server, missing variable: stale, run explains
        return f"unavailable:{type(exc).__name__}"


def _digest(value: object) -> str:
    return xxhash.xxh3_128_hexdigest(json.dumps(value, sort_keys=True, default=str).encode())


def connection_config(name: str | None, connections: Mapping[str, Any]) -> ConnectionConfig | None:
    """The cell's `[connections.NAME]` without secrets: auth keys map to the NAMES of their
    `${VAR}` variables; literal auth values are dropped (reported by validate, never used)."""
    spec = connections.get(name or "")
    if spec is None or spec.driver is None:
        return None
    auth = {}
    for key, value in spec.auth.items():
        text = str(value).strip()
        if text.startswith("${") and text.endswith("}") and len(text) > 3:
            auth[str(key)] = text[2:-1]
    return ConnectionConfig(
        spec.name, spec.driver.lower(), dict(spec.params), auth, dict(spec.options)
    )
