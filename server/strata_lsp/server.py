"""The Strata language server: a table of LSP handlers over `Documents` (which document is
which cell), `Notebooks` (analysis and publishing) and `Runs` (execution in a thread).

Every handler runs on the event loop; only runs leave it, and they come back through `post`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import cattrs
from lsprotocol import converters, types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage
from pygls.uris import to_fs_path

from strata_engine.model.notebook import CELLS_DIR, MANIFEST
from strata_engine.run.events import CellRun
from strata_engine.run.runner import MODES

from . import features, python_cells, variables, variants
from .agent_tools import AgentTools, tool_specs
from .cell_tests import CellTests
from .convert import state_payload
from .documents import Documents, normalize
from .environment import ENVIRONMENT_FILES, ENVIRONMENT_NAMES, Environments
from .health import HealthMonitor
from .interpreter import Interpreters
from .jupyter import export as export_notebook
from .jupyter import import_ipynb
from .notebooks import Host, Notebooks
from .runs import Runs
from .snapshots import notebook_lock, promote_cell
from .transport import serve

NOTEBOOK_TYPE = "strata-notebook"
"""The VS Code notebook type whose documents are synced to this server."""
VERSION = "0.1.0"
WATCHED = (
    "**/notebook.toml",
    "**/cells/**",
    "**/.strata/artifacts/index.sqlite*",
    *ENVIRONMENT_FILES,
)
log = logging.getLogger(__name__)


def converter() -> cattrs.Converter:
    """lsprotocol's converter, except that `strata/...` payloads stay plain JSON (pygls would
    turn them into namedtuples)."""
    conv = converters.get_converter()
    for cls in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        conv.register_structure_hook(cls, lambda obj, cls: cls(**obj))
    return conv


class StrataServer(LanguageServer):
    def __init__(self) -> None:
        sync = types.NotebookDocumentSyncOptions(
            notebook_selector=[types.NotebookDocumentFilterWithNotebook(notebook=NOTEBOOK_TYPE)],
            save=True,  # a save may add cells to notebook.toml: reload at once, not on a watcher
        )
        super().__init__(
            "strata",
            VERSION,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=sync,
            converter_factory=converter,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.documents = Documents()
        self.notebooks = Notebooks(self, self.documents)
        self.health = self.notebooks.health = HealthMonitor(self.post, self.notify)
        self.runs = Runs(
            self.post, self.notify, self._cell_running, self._run_done, self._cell_executed
        )
        self.environments = Environments(self.post, self.notify, self.notebooks, self.runs.active)
        self.interpreters = Interpreters(self.notebooks, self.environments, self.runs.active)
        self.tables = variables.Tables()
        self.cell_tests = CellTests(self.notebooks, self.runs.active)
        self.agent_tools = AgentTools(self.notebooks)
        for method, handler, options in self._handlers():
            self.feature(method, options)(_plain(handler, custom=method.startswith("strata/")))

    def _handlers(self) -> list[tuple[str, Callable[[Any], Any], Any]]:
        # `{` and `:` open a prompt placeholder and a SQL bind: upstream names are offered there.
        # `.`: Python attributes (jedi); the others are annotation and placeholder triggers.
        completion = types.CompletionOptions(trigger_characters=["@", " ", "=", ",", "{", ":", "."])
        signatures = types.SignatureHelpOptions(trigger_characters=["(", ","])
        actions = types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix])
        return [
            (types.INITIALIZE, self._initialize, None),
            (types.INITIALIZED, self._initialized, None),
            (types.SHUTDOWN, self._shutdown, None),
            (types.TEXT_DOCUMENT_DID_OPEN, self._text_opened, None),
            (types.TEXT_DOCUMENT_DID_CHANGE, self._text_changed, None),
            (types.TEXT_DOCUMENT_DID_CLOSE, self._text_closed, None),
            (types.NOTEBOOK_DOCUMENT_DID_OPEN, self._notebook_opened, None),
            (types.NOTEBOOK_DOCUMENT_DID_CHANGE, self._notebook_changed, None),
            (types.NOTEBOOK_DOCUMENT_DID_SAVE, self._notebook_saved, None),
            (types.NOTEBOOK_DOCUMENT_DID_CLOSE, self._notebook_closed, None),
            (types.WORKSPACE_DID_CHANGE_WATCHED_FILES, self._files_changed, None),
            (types.TEXT_DOCUMENT_CODE_ACTION, self._code_action, actions),
            (types.TEXT_DOCUMENT_COMPLETION, self._completion, completion),
            (types.TEXT_DOCUMENT_HOVER, self._hover, None),
            (types.TEXT_DOCUMENT_SIGNATURE_HELP, self._signature_help, signatures),
            (types.TEXT_DOCUMENT_DEFINITION, self._definition, None),
            ("strata/run", self._run, None),
            ("strata/cancel", self._cancel, None),
            ("strata/state", self._state, None),
            ("strata/cachedOutputs", self._cached_outputs, None),
            ("strata/dag", self._dag, None),
            ("strata/checkWorkerHealth", self._check_worker_health, None),
            ("strata/setActiveVariant", self._set_active_variant, None),
            ("strata/environment", self._environment, None),
            ("strata/syncEnvironment", self._sync_environment, None),
            ("strata/setInterpreter", self._set_interpreter, None),
            ("strata/addPackage", self._add_package, None),
            ("strata/importNotebook", import_ipynb, None),
            ("strata/exportNotebook", export_notebook, None),
            ("strata/promoteCell", promote_cell, None),
            ("strata/lock", notebook_lock, None),
            ("strata/variables", self._variables, None),
            ("strata/tablePage", self._table_page, None),
            ("strata/runCellTests", self._run_cell_tests, None),
            ("strata/agentTools", tool_specs, None),
            ("strata/agentToolCall", self.agent_tools.call, None),
        ]

    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
        """Serve over stdio with a reader that survives malformed frames (see transport.py);
        returns the exit code."""
        return serve(self, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)

    # -- Outbox: what the hosts and runs send --------------------------------------------------
    def publish(self, uri: str, version: int | None, diagnostics: list[types.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=version)
        )

    def notify(self, method: str, payload: dict[str, Any]) -> None:
        # Plain JSON straight to json.dumps: protocol.notify first walks the payload through
        # cattrs, ~50 ms for the notebookState of 2,000 cells (sent on most keystrokes).
        message = {"jsonrpc": "2.0", "method": method, "params": payload}
        self.protocol._send_data(message)

    def notify_json(self, method: str, params: str) -> None:
        # The notebookState of 2,000 cells, mostly encoded already (see states.py).
        writer = self.protocol.writer
        if writer is None:
            return
        body = f'{{"jsonrpc":"2.0","method":{json.dumps(method)},"params":{params}}}'.encode()
        header = f"Content-Length: {len(body)}\r\n\r\n".encode()
        writer.write(header + body)

    def log(self, message: str, level: types.MessageType) -> None:
        self.window_log_message(types.LogMessageParams(type=level, message=message))

    def post(self, callback: Callable[[], None]) -> None:
        """Run `callback` on the event loop (callable from any thread)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(callback)

    # -- lifecycle ----------------------------------------------------------------------------
    def _initialize(self, params: types.InitializeParams) -> None:
        self.loop = asyncio.get_running_loop()
        options = params.initialization_options
        self.notebooks.timings = bool(isinstance(options, dict) and options.get("timings"))
        seconds = options.get("workerHealthSeconds") if isinstance(options, dict) else None
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
            self.health.interval = float(seconds)
        if isinstance(options, dict) and options.get("pythonWarmUp"):
            # jedi's first request loads typeshed's builtins (seconds): do it before one comes.
            threading.Thread(target=python_cells.PYTHON.warm, name="jedi-warm", daemon=True).start()
        forward = _LogForwarder(self)
        for name in ("strata_engine", "strata_lsp"):
            logging.getLogger(name).addHandler(forward)

    def _initialized(self, _params: types.InitializedParams) -> None:
        workspace = self.client_capabilities.workspace
        watched = workspace.did_change_watched_files if workspace else None
        if watched is None or not watched.dynamic_registration:
            return
        watchers = [types.FileSystemWatcher(glob_pattern=glob) for glob in WATCHED]
        registration = types.Registration(
            id="strata-watched-files",
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
        )
        self.client_register_capability(types.RegistrationParams(registrations=[registration]))

    def _shutdown(self, _params: None) -> None:
        self.environments.close()
        self.health.close()
        self.tables.close()
        self.notebooks.close_all()

    # -- documents ----------------------------------------------------------------------------
    def _text_opened(self, params: types.DidOpenTextDocumentParams) -> None:
        self._text_edited(params.text_document.uri, opened=True)

    def _text_changed(self, params: types.DidChangeTextDocumentParams) -> None:
        self._text_edited(params.text_document.uri, opened=False)

    def _text_edited(self, uri: str, *, opened: bool) -> None:
        ref = self.documents.open_text(uri) if opened else self.documents.touch(uri)
        if ref is None:
            return
        if ref.kind == "manifest":
            self.notebooks.load(self.notebooks.host(ref.directory))
        self.notebooks.changed(ref.directory, uri)

    def _text_closed(self, params: types.DidCloseTextDocumentParams) -> None:
        ref = self.documents.close_text(params.text_document.uri)
        if ref is None:
            return
        host = self.notebooks.host(ref.directory)
        if ref.kind == "manifest":
            self.notebooks.load(host)  # back to the file on disk
        self._settle(host)

    def _notebook_opened(self, params: types.DidOpenNotebookDocumentParams) -> None:
        directory = self.documents.sync_notebook(params.notebook_document)
        if directory is not None:
            for cell in params.notebook_document.cells:
                self.notebooks.changed(directory, cell.document)

    def _notebook_changed(self, params: types.DidChangeNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        cells = params.change.cells
        if params.change.metadata is not None or (cells and (cells.structure or cells.data)):
            notebook = self.workspace.get_notebook_document(notebook_uri=uri)
            if notebook is not None:
                self._notebook_opened_again(notebook)
        for content in (cells.text_content or []) if cells else []:
            ref = self.documents.touch(content.document.uri)
            if ref is not None:
                self.notebooks.changed(ref.directory, ref.uri)

    def _notebook_opened_again(self, notebook: types.NotebookDocument) -> None:
        before = {
            r.directory for r in self.documents.refs.values() if r.notebook_uri == notebook.uri
        }
        directory = self.documents.sync_notebook(notebook)
        for old in before - {directory}:
            self._settle(self.notebooks.host(old))
        if directory is not None:
            for cell in notebook.cells:
                self.notebooks.changed(directory, cell.document)

    def _notebook_saved(self, params: types.DidSaveNotebookDocumentParams) -> None:
        uri = params.notebook_document.uri
        for directory in {
            r.directory for r in self.documents.refs.values() if r.notebook_uri == uri
        }:
            self.notebooks.load(self.notebooks.host(directory))
            self.notebooks.changed(directory)

    def _notebook_closed(self, params: types.DidCloseNotebookDocumentParams) -> None:
        for directory in {
            r.directory for r in self.documents.close_notebook(params.notebook_document.uri)
        }:
            self._settle(self.notebooks.host(directory))

    def _settle(self, host: Host) -> None:
        """Publish what closing changed, then forget the notebook if nothing shows it."""
        self.notebooks.refresh(host)
        if not self.runs.active(host.directory):
            self.notebooks.release(host.directory)

    def _files_changed(self, params: types.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            path = to_fs_path(change.uri)
            if path is None:
                continue
            path_obj = normalize(Path(path))
            for directory, host in list(self.notebooks.hosts.items()):
                if not path_obj.is_relative_to(directory):
                    continue
                if path_obj.name in ENVIRONMENT_NAMES:
                    self.environments.check(directory)
                if path_obj.name == MANIFEST or path_obj.is_relative_to(directory / CELLS_DIR):
                    self.notebooks.load(host)  # the text on disk changed: read it again
                elif host.session is not None:
                    host.session.forget_lookups()  # e.g. `strata run` in a terminal
                self.notebooks.schedule(host)

    # -- features -----------------------------------------------------------------------------
    def _code_action(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        return features.code_actions(self.notebooks, params.text_document.uri, params.range)

    def _completion(self, params: types.CompletionParams) -> types.CompletionList | None:
        context = params.context
        trigger = context.trigger_character if context is not None else None
        return features.completion(
            self.notebooks, params.text_document.uri, params.position, trigger
        )

    def _hover(self, params: types.HoverParams) -> types.Hover | None:
        return features.hover(self.notebooks, params.text_document.uri, params.position)

    def _signature_help(self, params: types.SignatureHelpParams) -> types.SignatureHelp | None:
        uri, position = params.text_document.uri, params.position
        return python_cells.signature_help(self.notebooks, uri, position)

    def _definition(self, params: types.DefinitionParams) -> list[types.Location] | None:
        uri, position = params.text_document.uri, params.position
        return python_cells.definition(self.notebooks, uri, position)

    # -- strata/... ---------------------------------------------------------------------------
    def _run(self, params: dict[str, Any]) -> dict[str, Any]:
        host = self._host_param(params)
        mode = params.get("mode", "cells")
        cell_ids = params.get("cellIds") or []
        if mode not in MODES:
            raise JsonRpcInvalidParams(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not isinstance(cell_ids, list) or not all(isinstance(c, str) for c in cell_ids):
            raise JsonRpcInvalidParams("cellIds must be a list of cell ids")
        if host.session is None:
            raise JsonRpcInvalidParams(f"{host.manifest_path} does not parse; fix it first")
        overrides = self.notebooks.overrides(host)
        run_id = self.runs.start(host.directory, host.session, mode, cell_ids, overrides)
        return {"runId": run_id}

    def _cancel(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"cancelled": self.runs.cancel(str(params.get("runId", "")))}

    def _state(self, params: dict[str, Any]) -> dict[str, Any]:
        host = self._host_param(params)
        return state_payload(host.name, host.states, host.running, host.placements)

    def _cached_outputs(self, params: dict[str, Any]) -> dict[str, Any]:
        cell_ids = params.get("cellIds") or []
        keys = params.get("keys") or {}
        if not isinstance(keys, dict) or not all(isinstance(k, str) for k in keys.values()):
            raise JsonRpcInvalidParams("keys must map cell ids to cache keys")
        host = self._host_param(params)
        return features.cached_outputs(host, [str(c) for c in cell_ids], keys)

    def _dag(self, params: dict[str, Any]) -> dict[str, Any]:
        return features.dag(self._host_param(params))

    def _check_worker_health(self, params: dict[str, Any]) -> dict[str, Any]:
        """Probe the notebook's workers now; the answer is a `strata/workerHealth`."""
        host = self._host_param(params)
        return {"checking": self.health.check(host.directory)}

    def _set_active_variant(self, params: dict[str, Any]) -> dict[str, Any]:
        return variants.set_active(self.notebooks, self._host_param(params), params)

    def _variables(self, params: dict[str, Any]) -> dict[str, Any]:
        return variables.variables(self._host_param(params))

    async def _table_page(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.tables.page(self._host_param(params), params)

    async def _run_cell_tests(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.cell_tests.run(self._host_param(params), params)

    def _environment(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.environments.info(self._host_param(params))

    async def _sync_environment(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.environments.sync(self._host_param(params))

    async def _add_package(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.environments.add(self._host_param(params), params)

    async def _set_interpreter(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.interpreters.set(self._host_param(params), params)

    def _host_param(self, params: Any) -> Host:
        value = params.get("notebook") if isinstance(params, dict) else None
        if not isinstance(value, str) or not value:
            raise JsonRpcInvalidParams("notebook (the notebook directory) is required")
        path = Path(to_fs_path(value) or value) if value.startswith("file:") else Path(value)
        directory = normalize(path.parent if path.name == MANIFEST else path)
        if not (directory / MANIFEST).is_file():
            raise JsonRpcInvalidParams(f"{value} is not a Strata notebook directory")
        return self.notebooks.fresh(directory)

    # -- run callbacks (on the loop) ----------------------------------------------------------
    def _cell_running(self, directory: Path, cell_id: str, running: bool) -> None:
        host = self.notebooks.hosts.get(directory)
        if host is None:
            return
        if running:
            host.running.add(cell_id)
            self.notebooks.publish_state(host)
        else:
            host.running.discard(cell_id)
            self.notebooks.schedule(host)

    def _cell_executed(self, directory: Path, cell: CellRun) -> None:
        host = self.notebooks.hosts.get(directory)
        if host is not None:
            self.notebooks.run_warnings(host, cell.id, cell.warnings)

    def _run_done(self, directory: Path) -> None:
        self.environments.check(directory)  # the run may have synced the venv
        host = self.notebooks.hosts.get(directory)
        if host is not None:
            host.running.clear()
            self._settle(host)


def _plain(handler: Callable[[Any], Any], *, custom: bool = False) -> Callable[[Any], Any]:
    """pygls tags handlers with attributes, which bound methods do not accept. `custom`
    (our `strata/*` requests) also refuses params that are not an object, as invalid params,
    before a handler would fail on them as an internal error."""

    def checked(params: Any) -> Any:
        if custom and not isinstance(params, dict):
            raise JsonRpcInvalidParams(f"params must be an object, not {type(params).__name__}")
        return params

    if asyncio.iscoroutinefunction(handler):  # pygls awaits these on the loop

        async def call_async(params: Any) -> Any:
            return await handler(checked(params))

        return call_async

    def call(params: Any) -> Any:
        return handler(checked(params))

    return call


class _LogForwarder(logging.Handler):
    """Engine and server warnings also go to the client's log (window/logMessage)."""

    def __init__(self, server: StrataServer) -> None:
        super().__init__(level=logging.WARNING)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        level = (
            types.MessageType.Error
            if record.levelno >= logging.ERROR
            else types.MessageType.Warning
        )
        message = self.format(record)
        self.server.post(lambda: self.server.log(message, level))
