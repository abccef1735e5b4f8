"""strata/promoteCell and strata/lock against the real server: the same engine calls as
`strata promote` and `strata freeze`'s lock, refusals as invalid params."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from .harness import Session

pytestmark = pytest.mark.asyncio


def _notebook(nb: Path, cells: dict[str, str]) -> Path:
    (nb / "cells").mkdir(parents=True)
    entries = []
    for order, (cell, text) in enumerate(cells.items(), start=1):
        (nb / "cells" / f"{cell}.py").write_text(text)
        entries.append(
            f'[[cells]]\nid = "{cell}"\nfile = "{cell}.py"\nlanguage = "python"\norder = {order}\n'
        )
    (nb / "notebook.toml").write_text('notebook_id = "p"\nname = "p"\n\n' + "\n".join(entries))
    return nb


async def test_promote_cell_and_lock(lsp: Session, tmp_path: Path) -> None:
    nb = _notebook(
        tmp_path / "nb",
        {"a": "def double(v):\n    return 2 * v\n", "b": "k = 2\n\ndef f():\n    return k\n"},
    )
    request = lsp.client.protocol.send_request_async
    assert await request("strata/lock", {"notebook": nb.as_uri()}) is None
    done = await request(
        "strata/promoteCell", {"notebook": str(nb / "notebook.toml"), "cell": "a", "to": "util.py"}
    )
    assert done["names"] == ["double"] and done["module"] == str(nb.resolve() / "util.py")
    assert (nb / "cells" / "a.py").read_text() == "from util import double\n"
    with pytest.raises(JsonRpcInvalidParams, match="f reads k"):
        await request("strata/promoteCell", {"notebook": str(nb), "cell": "b", "to": "g.py"})
    (nb / "strata.lock").write_text(json.dumps({"version": 1, "cells": {"a": {}}}))
    lock = await request("strata/lock", {"notebook": str(nb)})
    assert lock["cells"] == {"a": {}}
