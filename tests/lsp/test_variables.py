"""strata/variables and strata/tablePage against the real server: the variables of a run
notebook described from the store, a page of a stored DataFrame sorted and filtered by the
engine, and requests the server refuses with a clear message."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from .conftest import NotebookFactory
from .harness import Session

pytestmark = pytest.mark.asyncio

CELLS = {
    "load": (
        "import pandas as pd\n"
        "sales = pd.DataFrame({'region': ['north', 'south', 'east'] * 400,"
        " 'units': list(range(1200))})\n"
        "label = 'sales'\n"
    ),
    "total": "total = int(sales['units'].sum())\n",
}


async def test_variables_and_pages(lsp: Session, make_notebook: NotebookFactory) -> None:
    directory = make_notebook(CELLS)
    lsp.open_notebook(directory, CELLS)
    await lsp.run_to_end(directory, "all")
    await lsp.state(directory, lambda c: c["total"]["state"] == "ready")
    request = lsp.client.protocol.send_request_async
    listing = await request("strata/variables", {"notebook": str(directory)})
    cells = {c["cellId"]: c for c in listing["cells"]}
    assert cells["load"]["state"] == "ready" and cells["load"]["current"] is True
    variables = {v["name"]: v for v in cells["load"]["variables"]}
    sales = variables["sales"]
    assert sales["type"] == "pandas.DataFrame" and sales["shape"] == [1200, 2]
    assert sales["table"] is True and sales["contentType"] == "arrow/ipc"
    assert variables["label"]["type"] == "str" and variables["label"]["length"] == 5
    assert cells["total"]["variables"][0]["type"] == "int"

    page = await request(
        "strata/tablePage",
        {
            "notebook": str(directory),
            "digest": sales["digest"],
            "offset": 10,
            "limit": 5,
            "sort": [{"column": "units", "desc": True}],
            "filter": "EAST",
        },
    )
    assert page["cellId"] == "load" and page["name"] == "sales"
    assert [c["name"] for c in page["columns"]] == ["region", "units"]
    assert page["total"] == 1200 and page["filteredTotal"] == 400
    assert page["rows"] == [["east", u] for u in range(1199 - 30, 1199 - 45, -3)]

    by_name = await request(
        "strata/tablePage",
        {"notebook": str(directory), "cellId": "load", "name": "sales", "limit": 2},
    )
    assert by_name["rows"] == [["north", 0], ["south", 1]]


async def test_refusals_name_the_problem(lsp: Session, make_notebook: NotebookFactory) -> None:
    directory = make_notebook(CELLS)
    lsp.open_notebook(directory, CELLS)
    await lsp.run_to_end(directory, "all")
    await lsp.state(directory, lambda c: c["total"]["state"] == "ready")
    request = lsp.client.protocol.send_request_async
    base = {"notebook": str(directory)}
    with pytest.raises(JsonRpcInvalidParams, match="'label' of cell 'load' is a str"):
        await request("strata/tablePage", {**base, "cellId": "load", "name": "label"})
    with pytest.raises(JsonRpcInvalidParams, match="no stored variable"):
        await request("strata/tablePage", {**base, "digest": "0" * 32})
    with pytest.raises(JsonRpcInvalidParams, match="limit must be"):
        await request(
            "strata/tablePage", {**base, "cellId": "load", "name": "sales", "limit": 100_000}
        )
    with pytest.raises(JsonRpcInvalidParams, match="no column"):
        await request(
            "strata/tablePage",
            {**base, "cellId": "load", "name": "sales", "sort": [{"column": "x; DROP"}]},
        )
