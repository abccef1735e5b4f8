"""Is an executor worker up? `GET {url}/health` (SPEC 13: no auth), within a short timeout.

Healthy means it answered 200 with `"status": "healthy"` and offers protocol v1; anything
else is unhealthy with a message naming the URL it asked. The bearer token is never sent.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from strata_engine.backends.base import HEALTHY, UNHEALTHY, WorkerConfig, WorkerHealth
from strata_engine.worker.bundle import HEALTH_PATH, PROTOCOL_VERSION

BACKEND = "executor"
_MAX_BODY = 1024 * 1024


class _Unhealthy(Exception):
    """Why the worker is not usable; completes "... at URL"."""


def probe(worker: WorkerConfig, timeout: float) -> WorkerHealth:
    url = worker.config.get("url")
    if not isinstance(url, str) or not url:
        error = "has no url: set [workers.config] url in notebook.toml"
        return WorkerHealth(worker.name, BACKEND, UNHEALTHY, error=error)
    target = health_url(url)
    try:
        answer = _get(target, timeout)
        version, protocols = _check(answer)
    except _Unhealthy as why:
        error = f"{why} at {target}"
        return WorkerHealth(worker.name, BACKEND, UNHEALTHY, target, error=error)
    return WorkerHealth(worker.name, BACKEND, HEALTHY, target, version, protocols)


def health_url(url: str) -> str:
    """`{base}/health` for a base URL or a `/v1/execute` endpoint, without `user:pass@`."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/v1/execute"):
        path = path[: -len("/v1/execute")]
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, path + HEALTH_PATH, "", ""))


def _get(url: str, timeout: float) -> Any:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Unhealthy("has a url that is not http(s)://host[:port]")
    try:
        port = parts.port
    except ValueError as exc:
        raise _Unhealthy("has a url with an invalid port") from exc
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, port, timeout=timeout)
    try:
        conn.request("GET", parts.path, headers={"Accept": "application/json"})
        response = conn.getresponse()
        body = response.read(_MAX_BODY)
    except ConnectionRefusedError as exc:
        raise _Unhealthy("is not reachable: connection refused") from exc
    except TimeoutError as exc:
        raise _Unhealthy(f"did not answer within {timeout:g}s") from exc
    except socket.gaierror as exc:
        raise _Unhealthy(f"is not reachable: unknown host ({exc.strerror})") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _Unhealthy(f"is not reachable ({type(exc).__name__}: {exc})") from exc
    finally:
        conn.close()
    if response.status != 200:
        raise _Unhealthy(f"answered HTTP {response.status} {response.reason} to GET /health")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise _Unhealthy("answered GET /health with something that is not JSON") from exc


def _check(answer: Any) -> tuple[str | None, tuple[str, ...]]:
    """(version, protocol versions) of a healthy answer; raises for any other."""
    if not isinstance(answer, dict):
        raise _Unhealthy("answered GET /health with JSON that is not an object")
    status = answer.get("status")
    if status != "healthy":
        raise _Unhealthy(f"reports status {status!r}, not 'healthy'")
    capabilities = answer.get("capabilities")
    offered = capabilities.get("protocol_versions") if isinstance(capabilities, dict) else None
    protocols = tuple(str(p) for p in offered) if isinstance(offered, list) else ()
    if PROTOCOL_VERSION not in protocols:
        shown = ", ".join(protocols) or "none"
        raise _Unhealthy(f"does not offer executor protocol {PROTOCOL_VERSION} (offers {shown})")
    version = answer.get("version")
    return (str(version) if version is not None else None), protocols
