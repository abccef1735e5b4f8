"""A real client driving a real `python -m strata_lsp` subprocess over stdio.

`Session.wait_for` resolves on the specific notification a test expects (no sleeps): every
server notification is recorded, and waiters are matched against new arrivals. A waiter's
timeout is only a guard against a hung server, never a way to synchronize.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES

from strata_lsp.server import NOTEBOOK_TYPE, converter

RECORDED = (
    types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
    types.WINDOW_LOG_MESSAGE,
    *(
        f"strata/{name}"
        for name in (
            "notebookState",
            "analysisTiming",
            "cellStarted",
            "cellCacheHit",
            "cellOutput",
            "cellStream",
            "cellProgress",
            "cellFinished",
            "cellError",
            "runFinished",
            "workerHealth",
            "environmentLog",
            "environmentChanged",
        )
    ),
)
GUARD_S = 30.0
"""How long a wait may take before the test fails (a hung server), not a synchronization."""

Predicate = Callable[[Any], bool]


@dataclass
class Recorder:
    messages: list[tuple[str, Any]] = field(default_factory=list)
    _waiters: list[tuple[str, Predicate, int, asyncio.Future[Any]]] = field(default_factory=list)

    def record(self, method: str, params: Any) -> None:
        self.messages.append((method, params))
        for waiter in list(self._waiters):
            wanted, predicate, _, future = waiter
            if wanted == method and not future.done() and predicate(params):
                future.set_result(params)
                self._waiters.remove(waiter)

    def mark(self) -> int:
        return len(self.messages)

    def all(self, method: str, after: int = 0) -> list[Any]:
        return [p for m, p in self.messages[after:] if m == method]

    async def wait_for(self, method: str, predicate: Predicate, after: int) -> Any:
        for name, params in self.messages[after:]:
            if name == method and predicate(params):
                return params
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((method, predicate, after, future))
        return await asyncio.wait_for(future, GUARD_S)


class Session:
    """One server process and its client, plus helpers speaking the Strata protocol."""

    def __init__(self, client: LanguageClient, recorder: Recorder) -> None:
        self.client = client
        self.recorder = recorder
        self.registrations: list[types.RegistrationParams] = []
        self._versions: dict[str, int] = {}

    # -- waiting ---------------------------------------------------------------------------
    def mark(self) -> int:
        return self.recorder.mark()

    async def wait_for(
        self, method: str, predicate: Predicate | None = None, *, after: int = 0
    ) -> Any:
        return await self.recorder.wait_for(method, predicate or (lambda _p: True), after)

    async def diagnostics(
        self,
        uri: str,
        predicate: Callable[[list[types.Diagnostic]], bool] | None = None,
        *,
        after: int = 0,
    ) -> list[types.Diagnostic]:
        """The first diagnostics published for `uri` (after `after`) that satisfy `predicate`."""
        params = await self.wait_for(
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
            lambda p: p.uri == uri and (predicate is None or predicate(list(p.diagnostics))),
            after=after,
        )
        return list(params.diagnostics)

    async def state(
        self,
        directory: Path,
        predicate: Callable[[dict[str, dict[str, Any]]], bool],
        *,
        after: int = 0,
    ) -> dict[str, dict[str, Any]]:
        """The first notebookState of `directory` whose cells (by id) satisfy `predicate`."""

        def matches(params: Any) -> bool:
            return params["notebook"] == str(directory) and predicate(_by_id(params))

        return _by_id(await self.wait_for("strata/notebookState", matches, after=after))

    # -- documents -------------------------------------------------------------------------
    def open_notebook(
        self, directory: Path, cells: dict[str, str], *, uri: str | None = None
    ) -> dict[str, str]:
        """Open a notebook document whose cells are `cells` (id -> text). Returns id -> the
        opaque cell URI (vscode-notebook-cell style, not a file path)."""
        notebook_uri = uri or f"strata:{directory}/notebook.strata"
        cell_uris = {
            cell_id: f"vscode-notebook-cell:{directory}/notebook.strata#{i}"
            for i, cell_id in enumerate(cells)
        }
        for cell_uri in cell_uris.values():
            self._versions[cell_uri] = 1
        self.client.notebook_document_did_open(
            types.DidOpenNotebookDocumentParams(
                notebook_document=types.NotebookDocument(
                    uri=notebook_uri,
                    notebook_type=NOTEBOOK_TYPE,
                    version=1,
                    metadata={"strata": {"directory": str(directory)}},
                    cells=[
                        types.NotebookCell(
                            kind=types.NotebookCellKind.Code,
                            document=cell_uris[cell_id],
                            metadata={"strata": {"id": cell_id}},
                        )
                        for cell_id in cells
                    ],
                ),
                cell_text_documents=[
                    types.TextDocumentItem(
                        uri=cell_uris[cell_id], language_id="python", version=1, text=text
                    )
                    for cell_id, text in cells.items()
                ],
            )
        )
        return cell_uris

    def edit_cell(self, notebook_uri: str, cell_uri: str, text: str) -> int:
        """Replace a notebook cell's whole text (unsaved); returns the new version."""
        version = self._versions[cell_uri] = self._versions.get(cell_uri, 1) + 1
        change = types.NotebookDocumentChangeEvent(
            cells=types.NotebookDocumentCellChanges(
                text_content=[
                    types.NotebookDocumentCellContentChanges(
                        document=types.VersionedTextDocumentIdentifier(
                            uri=cell_uri, version=version
                        ),
                        changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                    )
                ]
            )
        )
        self.client.notebook_document_did_change(
            types.DidChangeNotebookDocumentParams(
                notebook_document=types.VersionedNotebookDocumentIdentifier(
                    version=version, uri=notebook_uri
                ),
                change=change,
            )
        )
        return version

    def open_text(self, path: Path, text: str | None = None, language: str = "python") -> str:
        uri = from_fs_path(str(path)) or ""
        self._versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                types.TextDocumentItem(
                    uri=uri,
                    language_id=language,
                    version=1,
                    text=path.read_text() if text is None else text,
                )
            )
        )
        return uri

    def edit_text(self, uri: str, text: str) -> int:
        version = self._versions[uri] = self._versions.get(uri, 1) + 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return version

    # -- strata/... ------------------------------------------------------------------------
    async def run(
        self, directory: Path, mode: str = "all", cell_ids: list[str] | None = None
    ) -> str:
        result = await self.client.protocol.send_request_async(
            "strata/run", {"notebook": str(directory), "mode": mode, "cellIds": cell_ids or []}
        )
        return str(result["runId"])

    async def run_to_end(
        self, directory: Path, mode: str = "all", cell_ids: list[str] | None = None
    ) -> dict[str, Any]:
        mark = self.mark()
        run_id = await self.run(directory, mode, cell_ids)
        return dict(
            await self.wait_for("strata/runFinished", lambda p: p["runId"] == run_id, after=mark)
        )


def _by_id(params: Any) -> dict[str, dict[str, Any]]:
    return {cell["id"]: cell for cell in params["cells"]}


def make_client(
    recorder: Recorder, registrations: list[types.RegistrationParams]
) -> LanguageClient:
    client = LanguageClient(converter_factory=converter)
    for method, handler in DEFAULT_CLIENT_FEATURES.items():
        if method not in RECORDED:
            client.feature(method)(handler)
    for method in RECORDED:
        client.feature(method)(lambda params, method=method: recorder.record(method, params))

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        registrations.append(params)

    return client


async def start(
    server: list[str], *, timings: bool = False, options: dict[str, Any] | None = None
) -> Session:
    recorder = Recorder()
    registrations: list[types.RegistrationParams] = []
    client = make_client(recorder, registrations)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    await client.start_io(server[0], *server[1:], env=env)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options={"timings": timings, **(options or {})},
        )
    )
    session = Session(client, recorder)
    session.registrations = registrations
    return session


async def stop(session: Session) -> None:
    await session.client.shutdown_session()
    await session.client.stop()


SERVER = [sys.executable, "-m", "strata_lsp"]
