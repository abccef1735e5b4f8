"""The hover of a prompt cell shows what its cached answer was asked with (read from the
store, nothing sent): the model, the token usage and the rendered prompt."""

from __future__ import annotations

from pathlib import Path

import pytest
from openai_server import OpenAIServer, Reply, openai_server
from test_prompt_cells import KEY, KEY_VAR, write_prompt_notebook

from strata_engine.editor.explain import explain_at
from strata_engine.editor.prompt_explain import with_prompt_details
from strata_engine.run.session import Session

__all__ = ["openai_server"]


def test_prompt_hover_shows_model_usage_and_the_prompt_sent(
    tmp_path: Path, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VAR, KEY)
    openai_server.default = Reply("Cats nap.", usage=(321, 9))
    cells = {
        "topic": ("python", 'topic = "cats ```"\n'),
        "ask": ("prompt", "# @system Be brief.\nOne line about {{ topic }}.\n"),
    }
    nb = write_prompt_notebook(tmp_path / "nb", cells, url=openai_server.url)
    with Session(nb) as session:
        assert session.run().success
        snapshot, states = session.snapshot(), session.states()
        status = states["ask"]

        cell_hover = explain_at(snapshot, states, "ask", 1, 0)  # before the first directive
        assert cell_hover is not None and cell_hover.span is None
        text = with_prompt_details(cell_hover, status, lambda: session.blobs).markdown
        assert text.startswith(cell_hover.markdown)
        assert f"**Answer from `test-model`** at {openai_server.url}" in text
        assert "321 prompt + 9 completion tokens · 1 request" in text
        assert "System:\n```text\nBe brief." in text
        # The prompt holds a ``` run: its fence is longer, so the hover's block stays whole.
        assert "Prompt sent:\n````text\nOne line about cats ```.\n````" in text

        on_name = explain_at(snapshot, states, "ask", 2, 18)  # {{ topic }}: the variable
        assert on_name is not None and on_name.span is not None
        assert with_prompt_details(on_name, status, lambda: session.blobs) == on_name

    topic = nb / "cells" / "topic.py"
    topic.write_text('topic = "dogs"\n')  # stale: the cached answer is not this cell's
    with Session(nb) as session:
        states = session.states()
        hover = explain_at(session.snapshot(), states, "ask", 1, 0)
        assert hover is not None
        assert with_prompt_details(hover, states["ask"], lambda: session.blobs) == hover
    assert len(openai_server.requests) == 1
