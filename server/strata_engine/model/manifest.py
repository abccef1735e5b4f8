"""The typed model of notebook.toml (SPEC 2): workers, mounts, connections, store, variant
groups and the notebook-wide defaults, parsed once when a notebook is loaded.

Parsing never raises. A block the model cannot use (a worker without a name, a mount that
is not a table, ...) is left out here and stays in `Notebook.document`, so a save preserves
it verbatim and `manifest_checks` reports it: the model only ever holds what the engine can
act on, and the engine never has to re-validate the raw TOML.

Values that decide *where* or *whether* code runs are kept as written even when they are
unknown (a worker's `backend = "gpux"`): falling back to a default there would run a cell
somewhere its author did not ask for. Values whose fallback is harmless and documented
(a mount's mode "ro", a variant group's mode "switch") take the default instead.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

from strata_engine.model.timeouts import valid_timeout

# The records are NamedTuples, not dataclasses: this module is imported by every `strata run`,
# and a frozen dataclass costs about 1.5 ms to create at import, a NamedTuple a fifth of that.
DEFAULT_BACKEND = "local"
MOUNT_MODES = ("ro", "rw")
VARIANT_MODES = ("switch", "sweep")
_CONNECTION_SECTIONS = ("driver", "auth", "options")
_T = TypeVar("_T")


class WorkerSpec(NamedTuple):
    """One usable `[[workers]]` entry."""

    name: str
    backend: str
    """As written ("local" when absent): an unknown backend must be refused, not replaced."""
    runtime_id: str | None
    config: Mapping[str, Any]
    """`[workers.config]` (`url`, `token_env`, `scheduler`, ...); empty when absent."""


class MountEntry(NamedTuple):
    """One usable `[[mounts]]` entry."""

    name: str
    uri: str
    mode: str
    """"ro" or "rw"; an invalid mode is reported by the checks and reads as "ro"."""
    pin: str | None
    options: Mapping[str, Any]


class ConnectionSpec(NamedTuple):
    """One `[connections.<name>]` table. A table without a driver is kept (driver None) so
    cells naming it are not also told the connection is unknown; the checks report it."""

    name: str
    driver: str | None
    params: Mapping[str, Any]
    """The driver keys (`path`, `uri`, `host`, `database`, ...)."""
    auth: Mapping[str, str]
    """`[connections.<name>.auth]`: `${VAR}` references (literals are reported, not used)."""
    options: Mapping[str, Any]


class StoreSpec(NamedTuple):
    """The `[cache]` table: where artifacts live and how large the store may grow."""

    location: str | None
    """`store` as written (None: the default `.strata/artifacts`); may be a URI."""
    max_size: str | None
    options: Mapping[str, Any]
    problem: str | None = None
    """Why `[cache]` cannot be used as written (e.g. `cache = "x"`), as a message for the
    user; None when it is fine. Whoever opens the store refuses it with this message rather
    than quietly writing artifacts somewhere the author did not choose."""


class VariantGroupSpec(NamedTuple):
    group: str
    active: str | None
    mode: str
    """"switch" (default) or "sweep"; an invalid mode is reported and reads as "switch"."""


class AiSpec(NamedTuple):
    """The `[ai]` table: prompt cells' endpoint and defaults. Never the key itself."""

    model: str | None
    base_url: str | None
    """None: the client's default endpoint (OpenAI's)."""
    timeout_seconds: float | None
    api_key_env: str | None
    """The variable holding the API key (None: OPENAI_API_KEY)."""


class Manifest(NamedTuple):
    notebook_id: str | None
    name: str | None
    default_worker: str | None
    default_timeout: float | None
    """None when absent or not a valid timeout (reported by the checks)."""
    env: Mapping[str, str]
    workers: tuple[WorkerSpec, ...]
    mounts: tuple[MountEntry, ...]
    connections: Mapping[str, ConnectionSpec]
    store: StoreSpec
    variant_groups: tuple[VariantGroupSpec, ...]
    ai: Mapping[str, Any]

    def worker(self, name: str) -> WorkerSpec | None:
        """The first worker of that name (a duplicate is shadowed, as it always was)."""
        return next((w for w in self.workers if w.name == name), None)

    @property
    def worker_names(self) -> tuple[str, ...]:
        return tuple(w.name for w in self.workers)

    @property
    def mount_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.mounts)

    @property
    def connection_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.connections))

    @property
    def ai_settings(self) -> AiSpec:
        """`[ai]`, typed: a value of the wrong type reads as absent (the default applies)."""
        timeout: object = self.ai.get("timeout_seconds")
        usable = isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0
        return AiSpec(
            model=_text(self.ai.get("model")),
            base_url=_text(self.ai.get("base_url")),
            timeout_seconds=float(timeout) if usable else None,  # type: ignore[arg-type]
            api_key_env=_text(self.ai.get("api_key_env")),
        )


def parse_manifest_document(document: Mapping[str, Any]) -> Manifest:
    """The model of a parsed notebook.toml. Never raises; see the module docstring."""
    return Manifest(
        notebook_id=_text(document.get("notebook_id")),
        name=_optional_str(document.get("name")),
        default_worker=_optional_str(document.get("worker")),
        default_timeout=valid_timeout(document.get("timeout")),
        env=string_table(document.get("env")),
        workers=tuple(_items(document.get("workers"), _worker)),
        mounts=parse_mounts(document.get("mounts")),
        connections=_connections(document.get("connections")),
        store=_store(document),
        variant_groups=tuple(_items(document.get("variant_group"), _variant_group)),
        ai=_table(document.get("ai")),
    )


def parse_mounts(value: object) -> tuple[MountEntry, ...]:
    """The usable entries of a `[[mounts]]` (or a cell's `[[cells.mounts]]`) array."""
    return tuple(_items(value, _mount))


def string_table(value: object) -> dict[str, str]:
    """An environment-like table: scalar values as text; nested tables and arrays dropped."""
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if not isinstance(v, dict | list)}


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _text(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def _table(value: object) -> dict[str, Any]:
    """A private deep copy: the model must not change when someone edits the raw document."""
    return copy.deepcopy(value) if isinstance(value, dict) else {}


def _items(value: object, build: Callable[[Mapping[str, Any]], _T | None]) -> list[_T]:
    """The usable entries of an array of tables (`build` returns None for unusable ones)."""
    if not isinstance(value, list):
        return []
    built = (build(entry) for entry in value if isinstance(entry, dict))
    return [item for item in built if item is not None]


def _worker(entry: Mapping[str, Any]) -> WorkerSpec | None:
    name = _text(entry.get("name"))
    if name is None:
        return None
    backend = entry.get("backend", DEFAULT_BACKEND)
    return WorkerSpec(
        name=name,
        backend=backend if isinstance(backend, str) else str(backend),
        runtime_id=_text(entry.get("runtime_id")),
        config=_table(entry.get("config")),
    )


def _mount(entry: Mapping[str, Any]) -> MountEntry | None:
    name, uri = _text(entry.get("name")), entry.get("uri")
    if name is None:
        return None
    mode = entry.get("mode", "ro")
    return MountEntry(
        name=name,
        # Kept even when unsupported so the cell still sees the name; the checks report it.
        uri=uri if isinstance(uri, str) else "",
        mode=mode if mode in MOUNT_MODES else "ro",
        pin=_text(entry.get("pin")),
        options=_table(entry.get("options")),
    )


def _variant_group(entry: Mapping[str, Any]) -> VariantGroupSpec | None:
    group = _text(entry.get("group"))
    if group is None:
        return None
    mode = entry.get("mode", "switch")
    return VariantGroupSpec(
        group=group,
        active=_text(entry.get("active")),
        mode=mode if mode in VARIANT_MODES else "switch",
    )


def _connections(value: object) -> dict[str, ConnectionSpec]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, ConnectionSpec] = {}
    for name, table in value.items():
        if not isinstance(table, dict):
            continue
        auth = table.get("auth")
        out[name] = ConnectionSpec(
            name=name,
            driver=_text(table.get("driver")),
            params={k: copy.deepcopy(v) for k, v in table.items() if k not in _CONNECTION_SECTIONS},
            auth={k: v for k, v in auth.items() if isinstance(v, str)}
            if isinstance(auth, dict)
            else {},
            options=_table(table.get("options")),
        )
    return out


def _store(document: Mapping[str, Any]) -> StoreSpec:
    if "cache" not in document:
        return StoreSpec(location=None, max_size=None, options={})
    cache = document["cache"]
    if not isinstance(cache, dict):
        return StoreSpec(None, None, {}, problem=f"`cache = {_shown(cache)}` {_CACHE_TABLE}")
    store, max_size = cache.get("store"), cache.get("max_size")
    problem = None
    if store is not None and not _text(store):
        problem = f"[cache] store = {_shown(store)} is not a path or URI; {_STORE_HINT}"
    return StoreSpec(
        location=_text(store),
        max_size=max_size if isinstance(max_size, str) else None,
        options=_table(cache.get("options")),
        problem=problem,
    )


def store_refusal(store: StoreSpec) -> str | None:
    """Why this version cannot open the configured artifact store (None: it can). One
    message for `store_root` and the `store_unavailable` diagnostic, so `validate` warns
    with the exact words a run would fail with."""
    if store.problem is not None:
        return store.problem
    if store.location is not None and "://" in store.location:
        # The store registry knows which kinds this installation opens (imported here: the
        # model does not need the store package to load).
        from strata_engine.store.location import store_refusal as location_refusal

        return location_refusal(store.location, store.options)
    return None


def shared_store_unavailable(location: str) -> str:
    return (
        f"[cache] store = {location!r} in notebook.toml: shared stores "
        f"({location.split('://', 1)[0]}://...) are not available in this version; remove it "
        "to use .strata/artifacts"
    )


_CACHE_TABLE = (
    'in notebook.toml is not a table; write [cache] with store = "PATH" (or remove it to use '
    ".strata/artifacts)"
)
_STORE_HINT = 'write store = "PATH" or remove it to use .strata/artifacts'


def _shown(value: object) -> str:
    """A value as TOML-ish text for a message, bounded so a huge value cannot flood it."""
    text = f'"{value}"' if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
