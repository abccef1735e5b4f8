"""Property-based fuzzing of the language server's message handling (issue [11]): random and
garbled didOpen/didChange contents for notebook cells, cell files and notebook.toml, and bad
params to every custom strata/* request.

One real server (`python -m strata_lsp`) serves every example of a test. On every example:
it never answers with an internal error (-32603: an exception escaped a handler), it
publishes diagnostics for every document version it was sent, each diagnostic lies inside
its document, and it still answers afterwards. Nothing on disk changes: the server was only
sent text, so the notebook directory hashes the same before and after."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .conftest import write_notebook
from .harness import GUARD_S, SERVER, Recorder, Session, make_client


def tree_digest(root: Path) -> str:
    """Every file of the notebook (the store under .strata aside) with its content."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if ".strata" not in p.parts):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes() if path.is_file() else b"/")
    return digest.hexdigest()


SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
INTERNAL_ERROR = -32603
CELLS = {"a": "x = 1\n", "b": "# @timeout 5\ny = x + 1\n"}
# Requests that only read, or refuse bad params before doing anything. syncEnvironment and
# addPackage would reach uv (and the network) for a valid notebook: they get bad notebooks only.
REQUESTS = (
    *("strata/run", "strata/cancel", "strata/state", "strata/cachedOutputs", "strata/dag"),
    *("strata/checkWorkerHealth", "strata/setActiveVariant", "strata/environment"),
    *("strata/setInterpreter", "strata/exportNotebook", "strata/importNotebook"),
    *("strata/promoteCell", "strata/lock", "strata/variables", "strata/tablePage"),
    "strata/runCellTests",
)
UNSAFE_WITH_A_NOTEBOOK = ("strata/syncEnvironment", "strata/addPackage")


class Server:
    """A server process and its event loop, shared by the examples of one test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.directory = write_notebook(root / "nb", CELLS)
        self.loop = asyncio.new_event_loop()
        self.session = self.call(self._start())

    async def _start(self) -> Session:
        recorder = Recorder()
        registrations: list[types.RegistrationParams] = []
        client = make_client(recorder, registrations)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # cwd: a relative path in a fuzzed request lands in the scratch directory
        await client.start_io(SERVER[0], *SERVER[1:], env=env, cwd=str(self.root))
        await client.initialize_session(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(), initialization_options={}
            )
        )
        return Session(client, recorder)

    def call(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, GUARD_S))

    def close(self) -> None:
        self.call(self.session.client.shutdown_session())
        self.call(self.session.client.stop())
        self.loop.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("fuzz-lsp"))
    try:
        yield running
    finally:
        running.close()


async def request(session: Session, method: str, params: Any) -> Any:
    """The answer, or the error's code; an internal error fails the example."""
    try:
        return await session.client.protocol.send_request_async(method, params)
    except JsonRpcException as exc:
        assert exc.code != INTERNAL_ERROR, f"{method}({params!r}): {exc}"
        return exc.code


def alive(server: Server) -> None:
    answer = server.call(
        request(server.session, "strata/state", {"notebook": str(server.directory)})
    )
    assert isinstance(answer, dict) and {c["id"] for c in answer["cells"]} == set(CELLS)


# -- strategies ---------------------------------------------------------------------------------
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=120)
annotation_lines = st.builds(
    "# @{} {}".format,
    st.sampled_from(["timeout", "worker", "after", "loop", "mount", "env", "sql", "nocache", "x"]),
    st.sampled_from(["", "5", "-1", "nan", "a", "b", "a,b", "data=s3://b/k", "A=1", "{", "@"]),
)
python_lines = st.sampled_from(
    [
        "x = 1",
        "y = x",
        "def f(:",
        "import os",
        "del x",
        "global x",
        "for i in x:",
        "  pass",
        "lambda: (yield)",
        "[(a, b) for a in x if (b := a)]",
        "'''",
        "\\",
        "\t\tz = 1",
        "\x00",
    ]
)
cell_texts = st.one_of(
    texts,
    st.lists(st.one_of(annotation_lines, python_lines, texts), max_size=8).map("\n".join),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    texts,
    st.sampled_from(["a", "b", "missing", "all", "cells", "stale", "x", "../..", ""]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)
PARAM_KEYS = ("notebook", "mode", "cellIds", "cellId", "runId", "variable", "name", "group")
PARAM_KEYS += ("variant", "offset", "limit", "sort", "filter", "path", "target", "format")
PARAM_KEYS += ("interpreter", "package", "tests", "names", "uri", "destination", "cell", "to")


def notebook_values(server: Server, *, allow_valid: bool) -> st.SearchStrategy[Any]:
    bad = st.one_of(json_values, st.sampled_from(["", "/", "/nonexistent", "file:///nope"]))
    if not allow_valid:
        return bad
    valid = st.sampled_from(
        [str(server.directory), str(server.directory / "notebook.toml"), server.directory.as_uri()]
    )
    return st.one_of(valid, bad)


def params_for(server: Server, method: str) -> st.SearchStrategy[Any]:
    allow_valid = method not in UNSAFE_WITH_A_NOTEBOOK
    keyed = st.fixed_dictionaries(
        {"notebook": notebook_values(server, allow_valid=allow_valid)},
        optional={key: json_values for key in PARAM_KEYS[1:]},
    )
    return st.one_of(keyed, json_values) if allow_valid else keyed


# -- properties ---------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_bad_params_to_strata_requests_are_refused_not_internal_errors(
    server: Server, data: st.DataObject
) -> None:
    before = tree_digest(server.directory)
    method = data.draw(st.sampled_from(REQUESTS + UNSAFE_WITH_A_NOTEBOOK), label="method")
    params = data.draw(params_for(server, method), label="params")
    if method == "strata/run" and isinstance(params, dict):
        params.pop("mode", None)  # never a real run of the scratch notebook: mode defaults
        params["cellIds"] = ["no_such_cell"]
    answer = server.call(request(server.session, method, params))
    alive(server)
    if isinstance(answer, int):  # refused: nothing may have changed
        assert tree_digest(server.directory) == before, (method, params)


def check_published(diagnostics: list[types.Diagnostic], text: str) -> None:
    lines = text.splitlines() or [""]
    for diag in diagnostics:
        assert diag.message, diag
        assert 0 <= diag.range.start.line <= diag.range.end.line, diag
        assert diag.range.start.line <= len(lines), (diag, len(lines))


@SETTINGS
@given(first=st.lists(cell_texts, min_size=2, max_size=2), edits=st.lists(cell_texts, max_size=3))
def test_random_cell_contents_get_diagnostics_for_every_version(
    server: Server, first: list[str], edits: list[str]
) -> None:
    session, directory = server.session, server.directory
    before = tree_digest(directory)
    uri = f"strata:{directory}/notebook.strata"
    mark = session.mark()
    cell_uris = session.open_notebook(directory, dict(zip(CELLS, first, strict=True)), uri=uri)
    for cell_id, text in zip(CELLS, first, strict=True):
        found = server.call(session.diagnostics(cell_uris[cell_id], after=mark))
        check_published(found, text)
    for text in edits:
        mark = session.mark()
        version = session.edit_cell(uri, cell_uris["a"], text)
        params = server.call(
            session.wait_for(
                types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
                lambda p, v=version: p.uri == cell_uris["a"] and p.version == v,
                after=mark,
            )
        )
        check_published(list(params.diagnostics), text)
    session.client.notebook_document_did_close(
        types.DidCloseNotebookDocumentParams(
            notebook_document=types.NotebookDocumentIdentifier(uri=uri),
            cell_text_documents=[types.TextDocumentIdentifier(u) for u in cell_uris.values()],
        )
    )
    alive(server)
    assert tree_digest(directory) == before


@SETTINGS
@given(
    manifest=st.one_of(
        texts,
        st.lists(
            st.sampled_from(
                [
                    "[[cells]]",
                    'id = "a"',
                    'file = "a.py"',
                    "order = 1",
                    "cells = 3",
                    "[cache]",
                    "x = [",
                    'id = """',
                    "order = nan",
                    "[cells.x]",
                    'language = "sql"',
                    "timeout = -1",
                ]
            ),
            max_size=10,
        ).map("\n".join),
    ),
    cell=cell_texts,
)
def test_garbled_manifest_and_cell_files_in_the_editor(
    server: Server, manifest: str, cell: str
) -> None:
    session, directory = server.session, server.directory
    before = tree_digest(directory)
    mark = session.mark()
    toml_uri = session.open_text(directory / "notebook.toml", manifest, language="toml")
    cell_uri = session.open_text(directory / "cells" / "b.py", cell)
    for uri in (toml_uri, cell_uri):
        server.call(session.diagnostics(uri, after=mark))
    mark = session.mark()
    version = session.edit_text(toml_uri, manifest[::-1])
    server.call(
        session.wait_for(
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
            lambda p: p.uri == toml_uri and p.version == version,
            after=mark,
        )
    )
    for uri in (toml_uri, cell_uri):
        session.client.text_document_did_close(
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri))
        )
    alive(server)
    assert tree_digest(directory) == before
