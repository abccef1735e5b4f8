"""Python features in a cell near the end of the 500-cell benchmark notebook, over stdio.

Starts `python -m strata_lsp`, opens bench_lsp's synthetic notebook (500 chained cells, each
`import os` and `v{i} = v{i-1} + i`) as an LSP notebook document, and in cell 497 (whose
virtual module holds the 496 cells before it) asks, after each edit of that cell has been
analyzed: completion of an upstream name (`v49`), completion of a library attribute
(`os.pa`), hover and go to definition on an upstream name, signature help inside
`os.path.join(`. Each edit changes the cell's text, so nothing is answered from a cache of
the same request. The baseline is the same requests in a 2-cell notebook in the same run:
the ratio is what the 496 upstream cells cost.

    .venv/bin/python bench/bench_python_features.py [--cells 500] [--repeats 25] [--out FILE]

Target (issue 11): median under 150 ms on the 500-cell notebook.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench_lsp import PYTHON, Client, open_notebook, write_notebook

Request = tuple[str, str, Callable[[str, int], tuple[str, int, int]]]
"""(name, LSP method, text of the cell's last line -> (new last line, line, character))."""


def _requests(upstream: str) -> list[Request]:
    """The cursor goes on the last line of the cell, which each request rewrites."""
    return [
        ("completion: upstream name", "textDocument/completion", lambda base, n: ("v49", n, 3)),
        ("completion: library attribute", "textDocument/completion", lambda b, n: ("os.pa", n, 5)),
        ("hover: upstream name", "textDocument/hover", lambda b, n: (f"{upstream} + 1", n, 2)),
        (
            "definition: upstream name",
            "textDocument/definition",
            lambda b, n: (f"{upstream} + 2", n, 2),
        ),
        (
            "signature help: os.path.join(",
            "textDocument/signatureHelp",
            lambda b, n: ("os.path.join('a', ", n, 18),
        ),
    ]


async def _edit(client: Client, directory: Path, uri: str, text: str, version: int) -> None:
    """Change the cell and wait until the server has analyzed it completely (diagnostics go
    out before the states are computed; `strata/analysisTiming` ends every analysis), so
    the request that follows measures the feature, not the queue."""
    published = client.expect(
        lambda m, p: (
            m == "textDocument/publishDiagnostics"
            and p["uri"] == uri
            and p.get("version") == version
        )
    )
    analyzed = client.expect(lambda m, p: m == "strata/analysisTiming")
    client.notify(
        "notebookDocument/didChange",
        {
            "notebookDocument": {"uri": f"strata:{directory}", "version": version},
            "change": {
                "cells": {
                    "textContent": [
                        {
                            "document": {"uri": uri, "version": version},
                            "changes": [{"text": text}],
                        }
                    ]
                }
            },
        },
    )
    await asyncio.wait_for(published, 60)
    await asyncio.wait_for(analyzed, 60)


async def _measure(
    client: Client, directory: Path, uri: str, base: str, upstream: str, repeats: int
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    times: dict[str, list[float]] = {}
    answers: dict[str, Any] = {}
    version = 1
    lines = base.count("\n")
    for k in range(repeats):
        for name, method, make in _requests(upstream):
            last, line, character = make(base, lines)
            version += 1
            text = base + f"w{k} = {k}\n" + last + "\n"
            await _edit(client, directory, uri, text, version)
            params = {
                "textDocument": {"uri": uri},
                "position": {"line": line + 1, "character": character},
            }
            started = time.perf_counter()
            answers[name] = await client.request(method, params)
            times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return times, answers


async def _session(cells_count: int, repeats: int) -> tuple[dict[str, list[float]], dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp).resolve() / "nb"
        cells = write_notebook(directory, cells_count)
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
            target = sorted(cells)[-3] if cells_count > 3 else sorted(cells)[-1]
            upstream = f"v{int(target[1:]) - 1}"
            result = await _measure(
                client, directory, uris[target], cells[target], upstream, repeats
            )
            await client.request("shutdown", None)
            client.notify("exit", None)
        finally:
            await process.wait()
    return result


def _check(answers: dict[str, Any]) -> None:
    """The answers are real ones (a bench of empty answers would be meaningless)."""
    labels = {i["label"] for i in answers["completion: upstream name"]["items"]}
    assert "v49" in labels, labels
    assert "path" in {i["label"] for i in answers["completion: library attribute"]["items"]}
    assert answers["hover: upstream name"] is not None
    assert answers["definition: upstream name"], "no definition found"
    assert answers["signature help: os.path.join("]["activeParameter"] == 1


def _row(name: str, values: list[float], base: list[float]) -> str:
    median, base_median = statistics.median(values), statistics.median(base)
    ordered = sorted(values[1:] or values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"| {name} | {len(values)} | {values[0]:.0f} | {median:.1f} | {p95:.1f} "
        f"| {base_median:.1f} | {median / base_median:.2f} |"
    )


async def bench(cells_count: int, repeats: int) -> str:
    baseline, _ = await _session(2, repeats)
    times, answers = await _session(cells_count, repeats)
    _check(answers)
    every = [t for values in times.values() for t in values[1:]]
    return "\n".join(
        [
            f"Python features in cell {cells_count - 3} of a {cells_count}-cell notebook, over "
            f"stdio, {repeats} requests each after an edit of the cell (ms):",
            "",
            "| request | n | first (cold) | median | p95 (warm) | baseline median (2 cells) "
            "| ratio |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *(_row(name, values, baseline[name]) for name, values in times.items()),
            f"| all requests (warm) | {len(every)} | | {statistics.median(every):.1f} | | | |",
            "",
            "Target: median under 150 ms. The first request pays jedi's start (typeshed's "
            "builtins) once per server.",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = asyncio.run(bench(args.cells, args.repeats))
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
