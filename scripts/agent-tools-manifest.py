"""Writes extension/package.json's `contributes.languageModelTools` from the engine's agent
tools (`strata_engine.agent.TOOL_SPECS`), so the editor's tools are the engine's, one for one.

    .venv/bin/python scripts/agent-tools-manifest.py           # rewrite package.json
    .venv/bin/python scripts/agent-tools-manifest.py --check   # exit 1 when they differ

Only that key changes; the rest of package.json is rewritten byte for byte (2-space JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from strata_engine.agent import TOOL_SPECS

PACKAGE_JSON = Path(__file__).resolve().parent.parent / "extension" / "package.json"
PREFIX = "strata_"


def contribution(spec: dict[str, Any]) -> dict[str, Any]:
    name = str(spec["name"])
    description = str(spec["description"])
    first_sentence = description.split(". ")[0].rstrip(".") + "."
    return {
        "name": PREFIX + name,
        "toolReferenceName": PREFIX + name,
        "displayName": "Strata: " + name.replace("_", " ").capitalize(),
        "userDescription": first_sentence,
        "modelDescription": description,
        "canBeReferencedInPrompt": True,
        "tags": ["strata", "notebook"],
        "inputSchema": spec["inputSchema"],
    }


def expected() -> list[dict[str, Any]]:
    return [contribution(spec.to_json()) for spec in TOOL_SPECS]


def render(package: dict[str, Any]) -> str:
    return json.dumps(package, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on drift")
    parser.add_argument("--package", type=Path, default=PACKAGE_JSON)
    args = parser.parse_args(argv)
    text = args.package.read_text(encoding="utf-8")
    package = json.loads(text)
    tools = expected()
    if args.check:
        current = package.get("contributes", {}).get("languageModelTools")
        if current == tools:
            return 0
        print(
            f"{args.package}: contributes.languageModelTools differs from the engine's "
            "TOOL_SPECS; run .venv/bin/python scripts/agent-tools-manifest.py",
            file=sys.stderr,
        )
        return 1
    package.setdefault("contributes", {})["languageModelTools"] = tools
    new_text = render(package)
    if new_text != text:
        args.package.write_text(new_text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
