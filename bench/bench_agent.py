"""Agent tools (issue [12]): what a `run_snippet` costs an agent, per call.

    .venv/bin/python bench/bench_agent.py [--repeat 5]

On a copy of samples/quickstart (run once first), --repeat times each, through `call_tool`:
- a new snippet reading `orders` (it executes; its upstream are hits) with one session per
  call (the language server's mode: the cell worker starts, imports pandas, and stops);
- the same with kept sessions (`strata mcp`'s mode: the warm worker is reused);
- a repeated snippet (a cache hit: nothing executes), the baseline any call pays.
Prints one markdown table of medians with each row's ratio to the cache hit.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from strata_engine.agent import call_tool
from strata_engine.agent.sessions import close_sessions, keep_warm

REPO = Path(__file__).resolve().parents[1]


def _snippet(root: Path, source: str) -> float:
    started = time.perf_counter()
    result = call_tool(root, "run_snippet", {"source": source}, allow_run=True)
    elapsed = time.perf_counter() - started
    assert not result.is_error, result.text
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "samples" / "quickstart", root / "qs", ignore=_no_store)
        assert not call_tool(root, "run_all", {}, allow_run=True).is_error
        _snippet(root, "hit = len(orders)\n")
        per_call = [_snippet(root, f"a{i} = len(orders) + {i}\n") for i in range(args.repeat)]
        keep_warm()
        _snippet(root, "warmup = len(orders)\n")  # starts the kept worker
        warm = [_snippet(root, f"b{i} = len(orders) + {i}\n") for i in range(args.repeat)]
        hits = [_snippet(root, "hit = len(orders)\n") for _ in range(args.repeat)]
        close_sessions()
    base = statistics.median(hits)
    print("| run_snippet | median ms | x cache hit |\n| --- | ---: | ---: |")
    for label, times in (
        ("executes, one session per call", per_call),
        ("executes, kept session (strata mcp)", warm),
        ("cache hit (nothing executes)", hits),
    ):
        median = statistics.median(times)
        print(f"| {label} | {median * 1000:.0f} | {median / base:.1f} |")


def _no_store(_directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n == ".strata"]


if __name__ == "__main__":
    main()
