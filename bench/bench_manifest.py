"""Locating every cell entry of a very large notebook.toml (issue 7: quadratic span lookup).

    .venv/bin/python bench/bench_manifest.py [--cells 10000 150000]

For each size: build a `[[cells]]` manifest in memory, then time (a) indexing it and asking
`ManifestLocator.cell_entry` for every cell, as `place_load_diagnostics` does when every
entry has a load diagnostic, and (b) `check_manifest_text`, the manifest checks `validate`
and the language server run, with one warning per cell so every warning needs a span.
Nothing touches the disk. Prints one markdown table.
"""

from __future__ import annotations

import argparse
import time

from strata_engine.model.manifest_checks import check_manifest_text
from strata_engine.model.manifest_spans import ManifestLocator


def manifest(cells: int) -> str:
    blocks = [
        f'[[cells]]\nid = "c{i}"\nfile = "c{i}.py"\norder = {i}\ntimeout = 0\n'
        for i in range(cells)
    ]
    return 'notebook_id = "bench"\n\n' + "\n".join(blocks)


def measure(cells: int) -> tuple[float, float, int]:
    text = manifest(cells)
    started = time.perf_counter()
    at = ManifestLocator(text)
    last = max(at.cell_entry(f"c{i}").line for i in range(cells))
    locate = time.perf_counter() - started
    assert last == 4 + 6 * (cells - 1), last  # the last entry's id line: every span is real
    check_manifest_text.cache_clear()
    started = time.perf_counter()
    warnings = len(check_manifest_text(text))
    return locate, time.perf_counter() - started, warnings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, nargs="+", default=[10_000, 150_000])
    args = parser.parse_args()
    print("| cells | index + cell_entry for every cell | check_manifest_text | warnings |")
    print("| ---: | ---: | ---: | ---: |")
    for cells in args.cells:
        locate, check, warnings = measure(cells)
        print(f"| {cells:,} | {locate:.2f} s | {check:.2f} s | {warnings:,} |")


if __name__ == "__main__":
    main()
