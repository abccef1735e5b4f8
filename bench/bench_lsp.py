"""Keystroke-to-diagnostics round trip of the language server on an N-cell notebook.

A small JSON-RPC client starts `python -m strata_lsp` over stdio, opens a synthetic N-cell
notebook as an LSP notebook document (after `strata run`, so every cell is cached and the
staleness check has to look up N keys), then edits one cell in the middle, one keystroke
at a time. For each keystroke it measures the time from sending `notebookDocument/didChange`
to receiving `textDocument/publishDiagnostics` for that cell at that version, and the
server's own analysis time (the `strata/analysisTiming` notifications it sends when
started with `{"timings": true}`).

Three kinds of keystrokes: typing in a comment (the cell's key does not change: every cell
stays `ready`), typing in code (the cell and its downstream go stale) and typing a new name
(`n`, `na`, `naa`, ...: the cell's definitions change on every keystroke, so the graph
changes too); each way the server reuses the states outside the edited cell's downstream
cone.

    .venv/bin/python bench/bench_lsp.py [--cells 500] [--keystrokes 60] [--out FILE]

Targets: issue 2, 500 cells: median round trip <= 250 ms, server-side work <= 50 ms; issue
[11], 2,000 cells (bench_speed.py --only lsp): p95 round trip <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PYTHON = sys.executable
NOTEBOOK_TYPE = "strata-notebook"


def write_notebook(root: Path, count: int) -> dict[str, str]:
    """A chain of cells with annotations; every 25th cell carries a diagnostic."""
    (root / "cells").mkdir(parents=True)
    cells: dict[str, str] = {}
    lines = ['notebook_id = "bench-lsp"', 'name = "bench lsp"', "timeout = 120", ""]
    for i in range(count):
        cell_id = f"c{i:03d}"
        header = "# @timeout 30\n# @env MODE=fast\n"
        if i % 25 == 24:
            header += "# @timout 30\n"
        body = f"v{i} = {i}\n" if i % 10 == 0 else f"v{i} = v{i - 1} + {i}\n"
        cells[cell_id] = header + "import os\n" + body
        (root / "cells" / f"{cell_id}.py").write_text(cells[cell_id])
        lines += ["[[cells]]", f'id = "{cell_id}"', f'file = "{cell_id}.py"']
        lines += ['language = "python"', f"order = {i + 1}", ""]
    (root / "notebook.toml").write_text("\n".join(lines))
    return cells


class Client:
    """Just enough JSON-RPC over stdio: requests, notifications, and waiting for one."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._waiters: list[tuple[Callable[[str, Any], bool], asyncio.Future[float]]] = []
        self.notifications: list[tuple[float, str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            try:
                header = await stream.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the server exited
            length = next(
                int(line.split(b":")[1])
                for line in header.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            message = json.loads(await stream.readexactly(length))
            self._dispatch(time.perf_counter(), message)

    def _dispatch(self, now: float, message: dict[str, Any]) -> None:
        if "id" in message and "method" in message:  # a request from the server
            self._write({"jsonrpc": "2.0", "id": message["id"], "result": None})
        elif "id" in message:
            self._pending.pop(message["id"]).set_result(message.get("result"))
        else:
            method, params = message["method"], message.get("params")
            # Not the notebook states (2,000 entries each): the client's own garbage
            # collection over them showed up as round-trip outliers of the server.
            if method != "strata/notebookState":
                self.notifications.append((now, method, params))
            for waiter in list(self._waiters):
                if waiter[0](method, params) and not waiter[1].done():
                    waiter[1].set_result(now)
                    self._waiters.remove(waiter)

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    async def request(self, method: str, params: Any) -> Any:
        self._next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        self._write({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        return await future

    def notify(self, method: str, params: Any) -> float:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})
        return time.perf_counter()

    def expect(self, predicate: Callable[[str, Any], bool]) -> asyncio.Future[float]:
        """A future resolved with the arrival time of the first matching notification."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future


async def open_notebook(client: Client, directory: Path, cells: dict[str, str]) -> dict[str, str]:
    uris = {cell_id: f"vscode-notebook-cell:{directory}/nb#{cell_id}" for cell_id in cells}
    opened = client.expect(lambda m, p: m == "strata/notebookState")
    client.notify(
        "notebookDocument/didOpen",
        {
            "notebookDocument": {
                "uri": f"strata:{directory}",
                "notebookType": NOTEBOOK_TYPE,
                "version": 1,
                "metadata": {"strata": {"directory": str(directory)}},
                "cells": [
                    {"kind": 2, "document": uris[c], "metadata": {"strata": {"id": c}}}
                    for c in cells
                ],
            },
            "cellTextDocuments": [
                {"uri": uris[c], "languageId": "python", "version": 1, "text": text}
                for c, text in cells.items()
            ],
        },
    )
    await asyncio.wait_for(opened, 60)
    return uris


async def keystrokes(
    client: Client, directory: Path, uri: str, text: str, count: int, where: str
) -> list[float]:
    """Type `count` characters into a comment or into code; round trips in ms."""
    trips = []
    for k in range(1, count + 1):
        typed = {"comment": "#" + "x" * k, "code": f"w = {'1' * k}", "name": f"n{'a' * k} = 1"}
        version = k + 1 + {"comment": 0, "code": 1000, "name": 2000}[where]
        arrived = client.expect(
            lambda m, p, v=version: (
                m == "textDocument/publishDiagnostics" and p["uri"] == uri and p.get("version") == v
            )
        )
        sent = client.notify(
            "notebookDocument/didChange",
            {
                "notebookDocument": {"uri": f"strata:{directory}", "version": version},
                "change": {
                    "cells": {
                        "textContent": [
                            {
                                "document": {"uri": uri, "version": version},
                                "changes": [{"text": text + typed[where] + "\n"}],
                            }
                        ]
                    }
                },
            },
        )
        trips.append((await asyncio.wait_for(arrived, 30) - sent) * 1000)
    return trips


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"| {name} | {len(values)} | {statistics.median(values):.1f} | {p95:.1f} "
        f"| {max(values):.1f} |"
    )


async def bench(cells_count: int, count: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp).resolve() / "nb"
        cells = write_notebook(directory, cells_count)
        subprocess.run(
            [PYTHON, "-m", "strata_engine.cli", "run", str(directory), "--quiet"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # the planted warnings, printed by `strata run`
        )
        process = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "strata_lsp", stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        client = Client(process)
        try:
            await client.request(
                "initialize",
                {"processId": None, "capabilities": {}, "initializationOptions": {"timings": True}},
            )
            client.notify("initialized", {})
            uris = await open_notebook(client, directory, cells)
            gc.freeze()  # what the client holds now is never collected: no pauses over it
            target = sorted(cells)[cells_count // 2]
            mark = len(client.notifications)
            comment = await keystrokes(
                client, directory, uris[target], cells[target], count, "comment"
            )
            code = await keystrokes(client, directory, uris[target], cells[target], count, "code")
            name = await keystrokes(client, directory, uris[target], cells[target], count, "name")
            server = [
                p["ms"] for _, m, p in client.notifications[mark:] if m == "strata/analysisTiming"
            ]
            await client.request("shutdown", None)
            client.notify("exit", None)
        finally:
            await process.wait()
    return "\n".join(
        [
            f"Language server, {cells_count}-cell notebook, all cells cached, "
            f"{count} keystrokes per kind (ms):",
            "",
            "| measure | n | median | p95 | max |",
            "| --- | --- | --- | --- | --- |",
            summary("round trip, typing in a comment (all cells stay ready)", comment),
            summary("round trip, typing in code (downstream goes stale)", code),
            summary("round trip, typing a new name (the graph changes)", name),
            summary("round trip, all", comment + code + name),
            summary("server-side analysis per refresh", server),
            "",
            "Targets: round-trip median <= 250 ms; server-side work <= 50 ms. The round trip "
            "includes the 30 ms debounce.",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--keystrokes", type=int, default=60)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = asyncio.run(bench(args.cells, args.keystrokes))
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
