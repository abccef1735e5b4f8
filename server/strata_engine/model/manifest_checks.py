"""Diagnostics for notebook.toml itself (SPEC 2 and 11): syntax, unknown keys, malformed
workers, mounts, connections and variant groups, bad defaults, an unusable artifact store.

Facts the engine acts on (which workers exist, where the store is) come from the typed model
(`model.manifest`), so the checks and the run can never disagree about them. The raw document
is still walked for what the model deliberately leaves out: the malformed blocks themselves.

A pure function of the manifest text, memoized on it: the snapshot calls it on every
keystroke and the language server on every edit of notebook.toml. Unknown keys are warnings,
not errors: they survive a save verbatim (SPEC 2), the warning only catches typos.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from strata_engine.analysis.annotations import MOUNT_SCHEMES
from strata_engine.analysis.checks import BUILTIN_WORKERS, did_you_mean
from strata_engine.model.diagnostics import Diagnostic, Span, make
from strata_engine.model.manifest import (
    ConnectionSpec,
    Manifest,
    parse_manifest_document,
    store_refusal,
)
from strata_engine.model.manifest_file import (
    MANIFEST,
    NotebookParseError,
    check_manifest_shape,
    parsed_manifest,
    toml_error_position,
)
from strata_engine.model.manifest_spans import ManifestLocator, TablePath
from strata_engine.model.notebook import Notebook
from strata_engine.model.timeouts import TIMEOUT_RULE, valid_timeout

CONNECTION_DRIVERS = ("duckdb", "sqlite", "postgresql")
WORKER_BACKENDS = ("local", "executor", "dask")
VARIANT_MODES = ("switch", "sweep")

TOP_LEVEL_KEYS = (
    "notebook_id",
    "name",
    "created_at",
    "updated_at",
    "worker",
    "timeout",
    "owner",
    "cells",
    "env",
    "mounts",
    "workers",
    "connections",
    "variant_group",
    "ai",
    "cache",
)
CELL_KEYS = ("id", "file", "language", "order", "worker", "timeout", "env", "mounts")
WORKER_KEYS = ("name", "backend", "runtime_id", "config")
MOUNT_KEYS = ("name", "uri", "mode", "pin", "options")
VARIANT_GROUP_KEYS = ("group", "active", "mode")
AI_KEYS = ("model", "base_url", "timeout_seconds", "api_key_env")
CACHE_KEYS = ("store", "max_size", "options")
CONNECTION_KEYS = (
    *("driver", "auth", "options", "path", "uri", "dsn", "host", "port", "database"),
    *("dbname", "user", "username", "schema", "sslmode", "read_only", "extensions"),
)
_ENV_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_URI_PASSWORD = re.compile(r"://[^/@:\s]+:[^/@\s]+@")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Checker:
    """Accumulates the diagnostics of one manifest; `at` locates spans in its text."""

    def __init__(self, document: Mapping[str, Any], at: ManifestLocator | None) -> None:
        self.document, self.at = document, at
        self.model: Manifest = parse_manifest_document(document)
        self.out: list[Diagnostic] = []

    def report(
        self, code: str, message: str, span: Span | None, data: dict[str, str] | None = None
    ) -> None:
        self.out.append(make(code, message, file=MANIFEST, span=span, data=data))

    def key_span(self, path: TablePath, index: int | None, key: str) -> Span | None:
        return self.at.key(path, index, key) if self.at else None

    def value_span(self, path: TablePath, index: int | None, key: str) -> Span | None:
        return self.at.value(path, index, key) if self.at else None

    def table_span(self, path: TablePath, index: int | None = None) -> Span | None:
        return self.at.table(path, index) if self.at else None

    def unknown_keys(
        self, table: Mapping[str, Any], known: Iterable[str], path: TablePath, index: int | None
    ) -> None:
        known = tuple(known)
        if not table.keys() - known:
            return  # every entry of a 10,000-cell manifest, usually
        where = f"[{'.'.join(path)}]" if path else "the top level of notebook.toml"
        if index is not None:
            where = f"[[{'.'.join(path)}]] entry #{index + 1}"
        for key in table:
            if key in known:
                continue
            suggestion = did_you_mean(key, known)
            hint = f"did you mean '{suggestion}'? " if suggestion else ""
            message = f"unknown key '{key}' in {where}; {hint}Strata keeps it but ignores it"
            data = {"key": key, **({"suggestion": suggestion} if suggestion else {})}
            self.report("manifest_key_unknown", message, self.key_span(path, index, key), data)


@lru_cache(maxsize=16)
def check_manifest_text(text: str) -> tuple[Diagnostic, ...]:
    """Every diagnostic of one notebook.toml text (`parse_failed` when it does not parse)."""
    text = text.removeprefix("\ufeff")  # the loader reads past a BOM too
    loaded = parsed_manifest(text)
    if loaded is not None:  # parsed and shape-checked by the loader a moment ago
        # Spans are looked up only when there is something to point at (a 10,000-cell
        # manifest takes ~0.5 s to index by line).
        found = check_manifest(loaded)
        return tuple(check_manifest(loaded, _locator(text))) if found else ()
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col, detail = toml_error_position(exc, text)
        span = Span.on_line(line, col - 1, col) if line and col else Span(1, 0, 1, 0)
        message = f"notebook.toml does not parse: {detail}; fix the TOML syntax here"
        return (make("parse_failed", message, file=MANIFEST, span=span),)
    except RecursionError:
        message = "notebook.toml nests arrays or inline tables too deeply to be read; flatten it"
        return (make("parse_failed", message, file=MANIFEST, span=Span(1, 0, 1, 0)),)
    try:
        check_manifest_shape(Path(MANIFEST), text, document)
    except NotebookParseError as exc:
        col = (exc.column or 1) - 1
        span = Span.on_line(exc.line, col, col + 1) if exc.line else Span(1, 0, 1, 0)
        message = f"{exc.detail}; {exc.fix}"
        return (make("parse_failed", message, file=MANIFEST, span=span),)
    return tuple(check_manifest(document, _locator(text)))


def check_manifest(
    document: Mapping[str, Any], at: ManifestLocator | None = None
) -> list[Diagnostic]:
    """Diagnostics of a parsed manifest; spans only when `at` knows the text."""
    checker = _Checker(document, at)
    checker.unknown_keys(document, TOP_LEVEL_KEYS, (), None)
    _check_workers(checker)
    workers = list(checker.model.worker_names)
    _check_defaults(checker, workers)
    _check_cells(checker, workers)
    _check_mounts(checker)
    _check_connections(checker)
    _check_variant_groups(checker)
    _check_store(checker)
    for name, known in (("ai", AI_KEYS), ("cache", CACHE_KEYS)):
        table = document.get(name)
        if isinstance(table, dict):
            checker.unknown_keys(table, known, (name,), None)
    return checker.out


def manifest_diagnostics(notebook: Notebook) -> list[Diagnostic]:
    """The manifest checks of a loaded notebook (spans when its text is known)."""
    if notebook.manifest_text is not None:
        return list(check_manifest_text(notebook.manifest_text))
    return check_manifest(notebook.document)


def place_load_diagnostics(notebook: Notebook, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Give load diagnostics about notebook.toml (duplicate ids, bad entries) the line of
    their cell entry, so editors can show them where the problem is. A missing cell file is
    reported on its entry too: no editor can show a diagnostic in a file that does not exist."""
    if notebook.manifest_text is None or not diagnostics:
        return diagnostics
    at = _locator(notebook.manifest_text)
    placed = []
    for diag in diagnostics:
        if diag.code == "cell_file_missing":
            diag = replace(diag, file=MANIFEST, span=None)
        if diag.file == MANIFEST and diag.span is None:
            span = at.cell_entry(diag.cell_id) if diag.cell_id else at.table(("cells",), 0)
            diag = replace(diag, span=span)
        placed.append(diag)
    return placed


@lru_cache(maxsize=4)
def _locator(text: str) -> ManifestLocator:
    return ManifestLocator(text)


def _entries(document: Mapping[str, Any], key: str) -> list[tuple[int, Any]]:
    value = document.get(key, [])
    return list(enumerate(value)) if isinstance(value, list) else []


def _check_workers(checker: _Checker) -> None:
    """The entries the model had to leave out (or could only take as written)."""
    for index, worker in _entries(checker.document, "workers"):
        path = ("workers",)
        if not isinstance(worker, dict):
            message = f"[[workers]] entry #{index + 1} is not a table; write it as [[workers]]"
            checker.report("worker_malformed", message, checker.table_span(path, index))
            continue
        checker.unknown_keys(worker, WORKER_KEYS, path, index)
        name = worker.get("name")
        if not isinstance(name, str) or not name:
            message = (
                f'[[workers]] entry #{index + 1} has no name; add name = "..." '
                "so cells can select it with @worker"
            )
            checker.report("worker_malformed", message, checker.table_span(path, index))
        _check_backend(checker, worker, index)


def _check_backend(checker: _Checker, worker: Mapping[str, Any], index: int) -> None:
    path, label = ("workers",), worker.get("name") or f"entry #{index + 1}"
    backend = worker.get("backend")
    if backend is None:
        message = f'worker \'{label}\' has no backend; add backend = "local", "executor" or "dask"'
        checker.report("worker_malformed", message, checker.table_span(path, index))
    elif backend not in WORKER_BACKENDS:
        suggestion = did_you_mean(str(backend), WORKER_BACKENDS)
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        message = f"worker '{label}' has backend '{backend}'{hint}; use local, executor or dask"
        data = {"suggestion": suggestion} if suggestion else None
        span = checker.value_span(path, index, "backend")
        checker.report("worker_malformed", message, span, data)
    elif backend == "executor":
        config = worker.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("url"), str):
            message = (
                f"executor worker '{label}' has no URL; add [workers.config] "
                'url = "http://host:port"'
            )
            checker.report("worker_malformed", message, checker.table_span(path, index))
    elif backend == "dask":
        config = worker.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("scheduler"), str):
            message = (
                f"dask worker '{label}' has no scheduler; add [workers.config] "
                'scheduler = "tcp://host:8786"'
            )
            checker.report("worker_malformed", message, checker.table_span(path, index))


def _check_defaults(checker: _Checker, workers: list[str]) -> None:
    """The notebook-wide `worker` and `timeout`."""
    _check_worker_name(checker, checker.document.get("worker"), workers, (), None)
    _check_timeout(checker, checker.document.get("timeout"), (), None)


def _check_worker_name(
    checker: _Checker, value: object, workers: list[str], path: TablePath, index: int | None
) -> None:
    known = [*workers, *(w for w in BUILTIN_WORKERS if w not in workers)]
    if value is None or value in known:
        return
    suggestion = did_you_mean(str(value), known)
    hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
    message = f"unknown worker '{value}'{hint}; declare it in [[workers]] or use a known worker"
    data = {"worker": str(value), **({"suggestion": suggestion} if suggestion else {})}
    checker.report("worker_unknown", message, checker.value_span(path, index, "worker"), data)


def _check_timeout(checker: _Checker, value: object, path: TablePath, index: int | None) -> None:
    if value is None or valid_timeout(value) is not None:
        return
    shown = repr(value) if not isinstance(value, int) or abs(value) < 10**20 else "(a huge integer)"
    message = (
        f"timeout {shown} is not {TIMEOUT_RULE}; it is ignored (the default applies); "
        "write e.g. timeout = 300"
    )
    checker.report("timeout_not_numeric", message, checker.value_span(path, index, "timeout"))


def _check_cells(checker: _Checker, workers: list[str]) -> None:
    """Per-entry settings the loader accepts silently: worker, timeout and unknown keys.
    Missing ids, bad languages and unsafe files are reported by the loader itself."""
    for index, entry in _entries(checker.document, "cells"):
        if not isinstance(entry, dict):
            continue
        path = ("cells",)
        checker.unknown_keys(entry, CELL_KEYS, path, index)
        _check_worker_name(checker, entry.get("worker"), workers, path, index)
        _check_timeout(checker, entry.get("timeout"), path, index)


def _check_mounts(checker: _Checker) -> None:
    for index, mount in _entries(checker.document, "mounts"):
        path = ("mounts",)
        if not isinstance(mount, dict):
            message = f"[[mounts]] entry #{index + 1} is not a table; write it as [[mounts]]"
            checker.report("mount_uri_unsupported", message, checker.table_span(path, index))
            continue
        checker.unknown_keys(mount, MOUNT_KEYS, path, index)
        name, uri, mode = mount.get("name"), mount.get("uri"), mount.get("mode", "ro")
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            message = (
                f"[[mounts]] entry #{index + 1} needs name = a Python identifier "
                "(it becomes a variable in the cells)"
            )
            checker.report("mount_uri_unsupported", message, checker.table_span(path, index))
        scheme = uri.split("://", 1)[0].lower() if isinstance(uri, str) and "://" in uri else None
        if scheme not in MOUNT_SCHEMES:
            message = (
                f"mount URI {uri!r} is not supported; "
                "use file://, s3://, gs://, gcs://, az:// or azure://"
            )
            checker.report("mount_uri_unsupported", message, checker.value_span(path, index, "uri"))
        if mode not in ("ro", "rw"):
            message = f"mount mode {mode!r} is invalid; use 'ro' (read-only, default) or 'rw'"
            data = {"suggestion": "ro"}
            span = checker.value_span(path, index, "mode")
            checker.report("mount_mode_invalid", message, span, data)


def _check_connections(checker: _Checker) -> None:
    connections = checker.document.get("connections")
    if connections is None:
        return
    if not isinstance(connections, dict):
        message = "connections must be tables: write [connections.NAME] with driver = ..."
        checker.report("connection_malformed", message, checker.key_span((), None, "connections"))
        return
    for name, table in connections.items():
        path = ("connections", name)
        if not isinstance(table, dict):
            message = (
                f"connection '{name}' is not a table; write [connections.{name}] driver = \"...\""
            )
            checker.report("connection_malformed", message, checker.table_span(path))
            continue
        checker.unknown_keys(table, CONNECTION_KEYS, path, None)
        _check_driver(checker, name, table)
        _check_secrets(checker, checker.model.connections[name])


def _check_driver(checker: _Checker, name: str, table: Mapping[str, Any]) -> None:
    path = ("connections", name)
    driver = table.get("driver")
    if driver is None:
        message = (
            f'connection \'{name}\' has no driver; add driver = "duckdb", "sqlite" or "postgresql"'
        )
        span = checker.table_span(path)
        checker.report("connection_malformed", message, span, {"missing": "driver"})
    elif driver not in CONNECTION_DRIVERS:
        suggestion = did_you_mean(str(driver).lower(), CONNECTION_DRIVERS)
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        message = (
            f"connection '{name}' has driver '{driver}'{hint}; use duckdb, sqlite or postgresql"
        )
        data = {"suggestion": suggestion} if suggestion else None
        span = checker.value_span(path, None, "driver")
        checker.report("connection_driver_unknown", message, span, data)


def _check_secrets(checker: _Checker, connection: ConnectionSpec) -> None:
    """Credentials belong in the environment: `[connections.X.auth]` values must be ${VAR}
    references, and a URI must not embed a password."""
    name = connection.name
    for key, value in connection.auth.items():
        if not value or _ENV_REFERENCE.fullmatch(value):
            continue
        variable = re.sub(r"\W+", "_", f"{name}_{key}").upper()
        message = (
            f"auth value '{key}' of connection '{name}' is a literal; notebook.toml is "
            f'committed, so write {key} = "${{{variable}}}" and set {variable} in the '
            "environment"
        )
        data = {"suggestion": f"${{{variable}}}", "variable": variable}
        span = checker.value_span(("connections", name, "auth"), None, key)
        checker.report("connection_auth_literal_secret", message, span, data)
    for field in ("uri", "dsn"):
        uri = connection.params.get(field)
        if isinstance(uri, str) and _URI_PASSWORD.search(uri):
            message = (
                f"the {field} of connection '{name}' contains a password; move it to "
                f"[connections.{name}.auth] as a ${{VAR}} reference"
            )
            span = checker.value_span(("connections", name), None, field)
            checker.report("connection_auth_literal_secret", message, span)


def _check_variant_groups(checker: _Checker) -> None:
    for index, group in _entries(checker.document, "variant_group"):
        path = ("variant_group",)
        if not isinstance(group, dict):
            message = f"[[variant_group]] entry #{index + 1} is not a table; write it as a table"
            checker.report("variant_malformed", message, checker.table_span(path, index))
            continue
        checker.unknown_keys(group, VARIANT_GROUP_KEYS, path, index)
        if not isinstance(group.get("group"), str):
            message = f'[[variant_group]] entry #{index + 1} needs group = "NAME"'
            checker.report("variant_malformed", message, checker.table_span(path, index))
        mode = group.get("mode", "switch")
        if mode not in VARIANT_MODES:
            suggestion = did_you_mean(str(mode), VARIANT_MODES)
            message = f"variant group mode '{mode}' is invalid; use 'switch' (default) or 'sweep'"
            data = {"suggestion": suggestion} if suggestion else None
            span = checker.value_span(path, index, "mode")
            checker.report("variant_mode_invalid", message, span, data)


def _check_store(checker: _Checker) -> None:
    """An artifact store a run would refuse, reported with the words the run would use."""
    reason = store_refusal(checker.model.store)
    if reason is None:
        return
    cache = checker.document.get("cache")
    if isinstance(cache, dict):
        span = checker.value_span(("cache",), None, "store")
    else:
        span = checker.key_span((), None, "cache")
    checker.report("store_unavailable", reason, span)
