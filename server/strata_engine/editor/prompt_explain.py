"""Hover details of a cell that asked a model: what it sent, to which model, at what cost.

A prompt cell's run leaves a display of type `PROMPT_MIME` beside its answer (the rendered
prompt, the system message, the model, the endpoint and the token usage). This reads it from
the cached entry of the cell's current key, so the hover describes exactly the answer the
notebook uses. Reading only: nothing is asked again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from strata_engine.kinds.prompt import PROMPT_MIME

if TYPE_CHECKING:
    from strata_engine.cache.state import CellStatus
    from strata_engine.editor.explain import Explanation
    from strata_engine.store import BlobStore

PROMPT_CHARS = 3000
"""Characters of the rendered prompt a hover shows."""


def prompt_details(status: CellStatus | None, blobs: Callable[[], BlobStore]) -> str | None:
    """Markdown about the cached answer's request, or None when the cell has none."""
    entry = status.entry if status is not None else None
    if entry is None or entry.displays_digest is None:
        return None
    from strata_engine.store import load_displays

    try:
        displays = load_displays(blobs(), entry.displays_digest)
    except Exception:  # the store or a blob gone under the editor: no details, no failure
        return None
    record = next((d[PROMPT_MIME] for d in displays if PROMPT_MIME in d), None)
    if record is None:
        return None
    try:
        info = json.loads(record)
    except ValueError:
        return None
    return _markdown(info) if isinstance(info, Mapping) else None


def with_prompt_details(
    explanation: Explanation, status: CellStatus | None, blobs: Callable[[], BlobStore]
) -> Explanation:
    """The cell-level hover (no span) with the prompt details appended; others unchanged."""
    if explanation.span is not None:
        return explanation
    details = prompt_details(status, blobs)
    if details is None:
        return explanation
    from dataclasses import replace

    return replace(explanation, markdown=f"{explanation.markdown}\n\n{details}")


def _markdown(info: Mapping[str, Any]) -> str:
    usage = info.get("usage") or {}
    requests = int(usage.get("requests", 0))
    head = (
        f"**Answer from `{info.get('model')}`** at {info.get('endpoint')} · "
        f"{usage.get('prompt_tokens', 0)} prompt + {usage.get('completion_tokens', 0)} "
        f"completion tokens · {requests} request{'s' if requests != 1 else ''}"
    )
    parts = [head]
    system = info.get("system")
    if system:
        parts.append("System:\n" + _fenced(str(system)))
    prompt = str(info.get("prompt", ""))
    if len(prompt) > PROMPT_CHARS:
        prompt = f"{prompt[:PROMPT_CHARS]}\n[... {len(prompt):,} characters in all]"
    parts.append("Prompt sent:\n" + _fenced(prompt))
    return "\n\n".join(parts)


def _fenced(text: str) -> str:
    """A code block that the text itself cannot close (its longest backtick run + 1)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"
