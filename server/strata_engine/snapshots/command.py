"""`strata freeze` and `strata verify`: arguments and output (the work is in freeze.py and
verify.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_DIFFERS = 0, 1


def add_parsers(commands: Any) -> None:
    freeze = commands.add_parser(
        "freeze", help="write strata.lock: every cell's key and output digests (all ready)"
    )
    freeze.add_argument("directory", type=Path)
    freeze.add_argument("--format", choices=("human", "json"), default="human")
    verify = commands.add_parser(
        "verify", help="re-run every cell in a scratch store and compare with strata.lock"
    )
    verify.add_argument("directory", type=Path)
    verify.add_argument("--format", choices=("human", "json"), default="human")
    verify.add_argument("--no-sync", action="store_true", help="do not sync the environment")


def cmd_freeze(args: argparse.Namespace) -> int:
    from strata_engine.snapshots.freeze import FreezeRefused, freeze

    try:
        path, document = freeze(args.directory)
    except FreezeRefused as exc:
        if args.format == "json":
            _print_json({"frozen": False, "not_ready": exc.cells})
        print(f"strata freeze: {exc}", file=sys.stderr)
        return EXIT_DIFFERS
    if args.format == "json":
        _print_json({"frozen": True, "lock": str(path), "cells": sorted(document["cells"])})
    else:
        print(f"froze {len(document['cells'])} cells into {path}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from strata_engine.snapshots.verify import verify

    report = verify(args.directory, sync=not args.no_sync)
    if args.format == "json":
        _print_json(report.to_json())
    else:
        for cell in report.cells:
            print(_human_line(cell.to_json()))
        word = "identical to" if report.identical else "DIFFERENT from"
        print(f"{len(report.cells)} cells: outputs {word} strata.lock")
    return EXIT_OK if report.identical else EXIT_DIFFERS


def _human_line(cell: dict[str, Any]) -> str:
    line = f"  {cell['status']:<10} {cell['id']}"
    if not cell["environment_matches"]:
        line += " (environment differs)"
    if "reason" in cell:
        line += f": {cell['reason']}"
    changed = [f"{n}: {v}" for n, v in cell["outputs"].items() if v != "identical"]
    if changed and cell["status"] != "missing":
        line += f" [{', '.join(changed)}]"
    if "message" in cell:
        line += f"\n             {cell['message']}"
    return line


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")
