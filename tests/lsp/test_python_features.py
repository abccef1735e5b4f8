"""Python completion, hover, signature help and go to definition in notebook cells, over
stdio, from the editor's unsaved text (jedi in the server; nothing executes)."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from .conftest import NotebookFactory
from .harness import SERVER, Recorder, Session, make_client, start, stop

pytestmark = pytest.mark.asyncio

CELLS = {
    "load": (
        "import json\n"
        "\n"
        "def scale(values: list[float], factor: float = 2.0) -> list[float]:\n"
        '    """Multiply every value by factor."""\n'
        "    return [v * factor for v in values]\n"
        "\n"
        "rows = [1.0, 2.0]\n"
    ),
    "effect": "open('SIDE_EFFECT', 'w').write('ran')\n",
    "use": "total = scale(rows)\n",
}


def _doc(uri: str, line: int, character: int) -> dict[str, object]:
    return {
        "text_document": types.TextDocumentIdentifier(uri=uri),
        "position": types.Position(line, character),
    }


async def test_python_features_know_upstream_cells(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(CELLS)
    uris = lsp.open_notebook(directory, CELLS)
    await lsp.diagnostics(uris["use"])
    notebook_uri = f"strata:{directory}/notebook.strata"
    mark = lsp.mark()
    lsp.edit_cell(notebook_uri, uris["use"], "total = scale(rows)\nro\njson.dumps(total, )\n")
    await lsp.diagnostics(uris["use"], after=mark)

    # Completion: an upstream name, typed, from its cell (the unsaved text is what counts).
    completion = await lsp.client.text_document_completion_async(
        types.CompletionParams(**_doc(uris["use"], 1, 2))  # type: ignore[arg-type]
    )
    assert isinstance(completion, types.CompletionList)
    rows = next(i for i in completion.items if i.label == "rows")
    assert rows.kind == types.CompletionItemKind.Variable
    assert rows.detail == "List[float] · cell load"
    assert rows.text_edit is not None and rows.text_edit.range == types.Range(  # type: ignore[union-attr]
        types.Position(1, 0), types.Position(1, 2)
    )

    # Hover: jedi's signature and docstring, then the Strata hover of the name.
    hover = await lsp.client.text_document_hover_async(
        types.HoverParams(**_doc(uris["use"], 0, 9))  # type: ignore[arg-type]
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    assert "scale(values: list[float], factor: float=2.0) -> list[float]" in text
    assert "Multiply every value by factor." in text
    assert "load" in text.split("---")[-1]  # the Strata part: where `scale` comes from

    library = await lsp.client.text_document_hover_async(
        types.HoverParams(**_doc(uris["use"], 2, 7))  # type: ignore[arg-type]
    )
    assert library is not None and isinstance(library.contents, types.MarkupContent)
    assert "Serialize ``obj`` to a JSON formatted ``str``" in library.contents.value

    # Signature help with the active parameter.
    signatures = await lsp.client.text_document_signature_help_async(
        types.SignatureHelpParams(**_doc(uris["use"], 2, len("json.dumps(total, ")))  # type: ignore[arg-type]
    )
    assert signatures is not None
    assert signatures.signatures[0].label.startswith("dumps(obj: Any")
    assert signatures.active_parameter == 1

    # Go to definition: the producing cell's document, at the definition.
    found = await lsp.client.text_document_definition_async(
        types.DefinitionParams(**_doc(uris["use"], 0, 15))  # type: ignore[arg-type]
    )
    assert isinstance(found, list) and len(found) == 1
    location = found[0]
    assert isinstance(location, types.Location)
    assert location.uri == uris["load"]
    assert location.range == types.Range(types.Position(6, 0), types.Position(6, 4))

    assert not (directory / "SIDE_EFFECT").exists()


async def test_capabilities() -> None:
    client = make_client(Recorder(), [])
    await client.start_io(SERVER[0], *SERVER[1:])
    try:
        result = await client.initialize_session(
            types.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
        )
    finally:
        await client.shutdown_session()
        await client.stop()
    capabilities = result.capabilities
    help_options = capabilities.signature_help_provider
    assert help_options is not None and list(help_options.trigger_characters or []) == ["(", ","]
    assert capabilities.definition_provider
    completion = capabilities.completion_provider
    assert completion is not None and "." in (completion.trigger_characters or [])


async def test_a_space_in_python_code_does_not_list_every_name(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    """A space is an annotation trigger; in Python code it must not pop up jedi's names."""
    cells = {"a": "x = 1\n", "b": "y = \n"}
    uris = lsp.open_notebook(make_notebook(cells), cells)
    await lsp.diagnostics(uris["b"])
    spaced = await lsp.client.text_document_completion_async(
        types.CompletionParams(
            context=types.CompletionContext(
                trigger_kind=types.CompletionTriggerKind.TriggerCharacter, trigger_character=" "
            ),
            **_doc(uris["b"], 0, 4),  # type: ignore[arg-type]
        )
    )
    assert isinstance(spaced, types.CompletionList) and list(spaced.items) == []
    invoked = await lsp.client.text_document_completion_async(
        types.CompletionParams(**_doc(uris["b"], 0, 4))  # type: ignore[arg-type]
    )
    assert isinstance(invoked, types.CompletionList)
    assert "x" in {i.label for i in invoked.items}


async def test_warm_up_then_completion(make_notebook: NotebookFactory) -> None:
    """`pythonWarmUp` loads jedi in a thread at initialize; requests wait for it, never race."""
    session = await start(SERVER, options={"pythonWarmUp": True})
    try:
        cells = {"a": "alpha = 1\n", "b": "al\n"}
        uris = session.open_notebook(make_notebook(cells), cells)
        await session.diagnostics(uris["b"])
        found = await session.client.text_document_completion_async(
            types.CompletionParams(**_doc(uris["b"], 0, 2))  # type: ignore[arg-type]
        )
        assert isinstance(found, types.CompletionList)
        assert "alpha" in {i.label for i in found.items}
    finally:
        await stop(session)
