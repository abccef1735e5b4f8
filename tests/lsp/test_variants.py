"""Variant cells in the language server: notebookState carries each member's group, mode
and whether it is active, the DAG groups members, and strata/setActiveVariant writes
notebook.toml and marks the downstream stale (SPEC 2, 9, 14)."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio

CELLS = {
    "load": "data = [1, 2, 3]\n",
    "double": "# @variant model double\nfit = [x * 2 for x in data]\n",
    "triple": "# @variant model triple\nfit = [x * 3 for x in data]\n",
    "report": "total = sum(fit)\n",
}
HEADER = '[[variant_group]]\ngroup = "model"\nactive = "double"  # the team\'s pick\n'


async def test_state_dag_and_set_active_variant(
    lsp: Session, make_notebook: NotebookFactory
) -> None:
    directory = make_notebook(CELLS, header=HEADER)
    lsp.open_notebook(directory, CELLS)
    await lsp.run_to_end(directory, "all")
    state = await lsp.state(directory, lambda c: c["report"]["state"] == "ready")
    assert state["double"]["variant"] == {
        "group": "model",
        "name": "double",
        "mode": "switch",
        "active": True,
    }
    assert state["triple"]["variant"]["active"] is False
    assert state["triple"]["state"] == "never_run"
    assert "variant" not in state["load"]
    request = lsp.client.protocol.send_request_async
    dag = await request("strata/dag", {"notebook": str(directory)})
    nodes = {n["id"]: n for n in dag["nodes"]}
    assert nodes["triple"]["group"] == "model" and nodes["triple"]["active"] is False
    assert "triple" not in dag["order"]

    mark = lsp.mark()
    answer = await request(
        "strata/setActiveVariant", {"notebook": str(directory), "group": "model", "name": "triple"}
    )
    assert answer == {"group": "model", "active": "triple", "changed": True}
    state = await lsp.state(
        directory, lambda c: c["triple"]["variant"]["active"] is True, after=mark
    )
    assert state["report"]["state"] == "stale"
    assert state["report"]["reasons"] == [
        {"reason": "upstream_changed", "cell": "triple", "variable": "fit"}
    ]
    manifest = (directory / "notebook.toml").read_text()
    assert 'active = "triple"  # the team\'s pick' in manifest

    with pytest.raises(JsonRpcInvalidParams, match="members: double, triple"):
        await request(
            "strata/setActiveVariant",
            {"notebook": str(directory), "group": "model", "name": "quadruple"},
        )
