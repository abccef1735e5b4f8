"""What a backend cannot run is refused statically (issue [5]): a remote worker runs the
Python harness only, and loops iterate only on this machine. Such a cell is an error in
`validate`, `status` and the run, before anything is sent, and the rest still runs."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli import by_id, run_json, strata
from test_refusals import notebook, recorded_cells, validate_codes

# Port 9 (discard) on loopback: nothing may ever be sent there.
HEADER = (
    '[[workers]]\nname = "remote"\nbackend = "executor"\n'
    '[workers.config]\nurl = "http://127.0.0.1:9"\n'
)
LOOP = "# @worker remote\n# @loop max_iter=3 carry=x\nx = x + 1\n"


def test_remote_worker_refuses_other_kinds_and_loops_before_sending(tmp_path: Path) -> None:
    nb = notebook(
        tmp_path / "nb",
        [
            {"id": "seed", "source": "x = 0\n"},
            {"id": "climb", "source": LOOP},
            {
                "id": "ask",
                "source": "# @worker remote\nSummarize {{ x }}\n",
                "language": "prompt",
                "file": "ask.txt",
            },
            {"id": "here", "source": "y = 2\n"},
        ],
        HEADER,
    )
    code, codes = validate_codes(nb)
    assert code == 1
    assert codes["climb"] == ["worker_unavailable"] and codes["ask"] == ["worker_unavailable"]
    assert codes["here"] == [] and codes["seed"] == []

    states = {c["id"]: c for c in json.loads(strata("status", nb).stdout)["cells"]}
    assert states["climb"]["state"] == "error"
    assert "loop cells run on this machine only" in states["climb"]["message"]
    assert "Prompt cells cannot run on worker 'remote'" in states["ask"]["message"]
    assert "runs python cells only" in states["ask"]["message"]

    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 1
    assert cells["here"]["status"] == "ok" and cells["seed"]["status"] == "ok"
    assert cells["climb"]["status"] == "error" and "worker 'remote'" in cells["climb"]["error"]
    assert cells["ask"]["status"] == "error"
    assert recorded_cells(nb) == {"seed", "here"}
