"""A cached prompt cell against a cached Python cell, measured in one run.

Two notebooks of two cells each: `topic` (Python) then either a Python cell or a prompt cell
reading it. Both are run once to fill the cache (the prompt against a chat-completions
server on loopback, tests/engine/openai_server.py), then `strata run` is timed on each,
whole process, everything cached. The figure is the ratio prompt / Python (target <= 1.0
within noise), plus whether the process that served the prompt cell's hit imported
`openai` or `jsonschema` (it must not).

    .venv/bin/python bench/bench_prompt.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "engine"))
from openai_server import OpenAIServer, Reply  # noqa: E402  (a real loopback server)

PYTHON = sys.executable
KEY_VAR = "STRATA_BENCH_OPENAI_KEY"

# Runs `strata run` in this process, then reports what it imported (the hit path's cost).
IN_PROCESS = """
import json, sys
from strata_engine.cli import main
code = main(["run", sys.argv[1], "--format", "json"])
print(json.dumps({"code": code, "openai": "openai" in sys.modules,
                  "jsonschema": "jsonschema" in sys.modules}), file=sys.stderr)
"""


def notebook(root: Path, language: str, source: str, url: str) -> Path:
    (root / "cells").mkdir(parents=True)
    (root / "cells" / "topic.py").write_text('topic = "cats"\n')
    suffix = "prompt" if language == "prompt" else "py"
    (root / "cells" / f"use.{suffix}").write_text(source)
    (root / "notebook.toml").write_text(
        f'notebook_id = "bench-{language}"\n'
        f'[ai]\nmodel = "m"\nbase_url = "{url}"\napi_key_env = "{KEY_VAR}"\n\n'
        '[[cells]]\nid = "topic"\nfile = "topic.py"\nlanguage = "python"\norder = 1\n\n'
        f'[[cells]]\nid = "use"\nfile = "use.{suffix}"\nlanguage = "{language}"\norder = 2\n'
    )
    return root


def run(nb: Path) -> dict[str, object]:
    proc = subprocess.run(
        [PYTHON, "-m", "strata_engine.cli", "run", str(nb), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"strata run {nb} failed:\n{proc.stdout}\n{proc.stderr}")
    report: dict[str, object] = json.loads(proc.stdout)
    return report


def timed(nb: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        report = run(nb)
        times.append(time.perf_counter() - began)
        cells = report["cells"]
        assert isinstance(cells, list) and all(c["cache_hit"] for c in cells), report
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    os.environ[KEY_VAR] = "sk-bench"
    server = OpenAIServer()
    server.default = Reply("Cats sleep sixteen hours a day.")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            python_nb = notebook(Path(tmp) / "py", "python", "answer = topic.upper()\n", server.url)
            prompt_nb = notebook(
                Path(tmp) / "pr", "prompt", "One fact about {{ topic }}.\n", server.url
            )
            run(python_nb), run(prompt_nb)  # fill the caches
            sent = len(server.requests)
            # Interleaved, so drift on the shared machine hits both alike.
            py_times, pr_times = [], []
            for _ in range(args.repeat):
                py_times.append(timed(python_nb, 1))
                pr_times.append(timed(prompt_nb, 1))
            probe = subprocess.run(
                [PYTHON, "-c", IN_PROCESS, str(prompt_nb)], capture_output=True, text=True
            )
            imports = json.loads(probe.stderr.strip().splitlines()[-1])
            assert len(server.requests) == sent == 1, "a cached prompt cell sent a request"
    finally:
        server.close()
    py, pr = statistics.median(py_times), statistics.median(pr_times)
    print("| fully cached `strata run`, 2 cells | median | ratio |")
    print("| --- | --- | --- |")
    print(f"| Python cell after a Python cell (baseline) | {py * 1000:.0f} ms | 1.00 |")
    print(f"| prompt cell after a Python cell | {pr * 1000:.0f} ms | {pr / py:.2f} |")
    print()
    print(
        f"- requests to the endpoint after the first run: {len(server.requests) - sent} "
        f"(repeat {args.repeat} each); the process serving the prompt hit imported openai: "
        f"{imports['openai']}, jsonschema: {imports['jsonschema']} (exit {imports['code']})"
    )


if __name__ == "__main__":
    main()
