"""`strata/variables` (each cell's published variables, described from the store) and
`strata/tablePage` (one page of a stored table, sorted and filtered by the engine). The
engine describes and queries; this module finds the notebook, checks the table is one of its
variables and moves the DuckDB work off the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from pygls.exceptions import JsonRpcInvalidParams

from strata_engine.editor.table_pages import PageError, PageRequest, TablePages
from strata_engine.run.session import Session
from strata_engine.run.variables import describe, find_output, notebook_variables
from strata_engine.store.codecs import ARROW

from .notebooks import Host


def variables(host: Host) -> dict[str, Any]:
    session = _session(host)
    cells = notebook_variables(host.states, session.entry, session.blobs)
    return {"notebook": host.name, "cells": [cell.to_json() for cell in cells]}


class Tables:
    """The data viewer's open tables, shared by every notebook of the server."""

    def __init__(self) -> None:
        self.pages = TablePages()

    async def page(self, host: Host, params: dict[str, Any]) -> dict[str, Any]:
        session = _session(host)
        try:
            request = PageRequest.from_json(params)
        except PageError as exc:
            raise JsonRpcInvalidParams(str(exc)) from exc
        cell_id, name, digest = _target(params)
        found = find_output(host.states, session.entry, digest=digest, cell_id=cell_id, name=name)
        if found is None:
            what = digest or f"{name!r} of cell {cell_id!r}"
            raise JsonRpcInvalidParams(f"{host.name} has no stored variable {what}")
        cell, variable, stored = found
        info = describe(session.blobs, variable, stored)
        if stored.content_type != ARROW or not info.table:
            raise JsonRpcInvalidParams(
                f"{variable!r} of cell {cell!r} is a {info.type}, not a table the data "
                "viewer can show (Arrow tables, DataFrames, Series and 1-D arrays)"
            )
        path = session.blobs.path(stored.digest)
        if not path.is_file():
            raise JsonRpcInvalidParams(
                f"{variable!r} of cell {cell!r} is not in the local store ({path}); run the cell"
            )
        loop = asyncio.get_running_loop()
        try:
            page = await loop.run_in_executor(None, self.pages.page, stored.digest, path, request)
        except PageError as exc:
            raise JsonRpcInvalidParams(f"{variable!r} of cell {cell!r}: {exc}") from exc
        return {
            "cellId": cell,
            "name": variable,
            "digest": stored.digest,
            "type": info.type,
            **page,
        }

    def close(self) -> None:
        self.pages.close()


def _target(params: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    digest, cell_id, name = params.get("digest"), params.get("cellId"), params.get("name")
    if isinstance(digest, str) and digest:
        return None, None, digest
    if isinstance(cell_id, str) and isinstance(name, str):
        return cell_id, name, None
    raise JsonRpcInvalidParams("name the table: digest, or cellId and name")


def _session(host: Host) -> Session:
    if host.session is None:
        raise JsonRpcInvalidParams(f"{host.manifest_path} does not load; fix it first")
    return host.session
