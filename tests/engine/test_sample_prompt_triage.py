"""samples/prompt_triage: validates; without a key only its prompt cells fail (and
samples/prompt_triage/main.sh, which scripts/main.sh runs, accepts exactly that); with a key
it runs end to end against a chat-completions server on loopback and is cached after."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from openai_server import OpenAIServer, Reply, Request, openai_server
from test_cli import by_id, run_json, strata

__all__ = ["openai_server"]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "prompt_triage"
TRIAGE = {
    "tickets": [
        {"id": 101, "category": "billing", "urgency": "normal", "summary": "charged twice"},
        {"id": 102, "category": "bug", "urgency": "normal", "summary": "app crash"},
        {"id": 103, "category": "shipping", "urgency": "low", "summary": "parcel late"},
        {"id": 104, "category": "account", "urgency": "normal", "summary": "no reset email"},
        {"id": 105, "category": "other", "urgency": "low", "summary": "ships to Iceland?"},
        {"id": 106, "category": "bug", "urgency": "high", "summary": "checkout 500"},
    ]
}


def copy_sample(tmp_path: Path, base_url: str | None = None) -> Path:
    nb = tmp_path / "prompt_triage"
    shutil.copytree(SAMPLE, nb, ignore=shutil.ignore_patterns(".strata"))
    if base_url is not None:
        manifest = nb / "notebook.toml"
        text = manifest.read_text()
        manifest.write_text(text.replace("[ai]\n", f'[ai]\nbase_url = "{base_url}"\n', 1))
    return nb


def test_sample_validates() -> None:
    proc = strata("validate", SAMPLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_without_a_key_only_the_prompt_cells_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    nb = copy_sample(tmp_path)
    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 1
    assert "set the environment variable OPENAI_API_KEY" in cells["triage"]["error"]
    assert cells["tickets"]["status"] == "ok" and cells["channels"]["status"] == "ok"
    assert cells["report"]["reason"] == "upstream failed"
    assert cells["reply"]["reason"] == "upstream failed"


def test_main_sh_accepts_a_keyless_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    proc = subprocess.run(
        ["bash", str(SAMPLE / "main.sh")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "only the prompt cells fail" in proc.stdout


def test_with_a_key_it_runs_and_is_cached(
    tmp_path: Path, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-sample-test")

    def respond(request: Request) -> Reply:
        if "Classify each of these support tickets" in request.user_text:
            return Reply(json.dumps(TRIAGE))
        return Reply("Sorry about the checkout error; we are on it.")

    openai_server.respond = respond
    nb = copy_sample(tmp_path, openai_server.url)
    code, report = run_json(nb)
    cells = by_id(report)
    assert code == 0, report
    assert "most urgent: #106 checkout 500" in cells["report"]["stdout"]
    assert cells["reply"]["stdout"] == "Sorry about the checkout error; we are on it.\n"
    assert len(openai_server.requests) == 2
    triage = next(r for r in openai_server.requests if "Classify" in r.user_text)
    assert "[6 rows x 3 columns]" in triage.user_text
    reply = next(r for r in openai_server.requests if r is not triage)
    assert "500 error when I apply a gift card" in reply.user_text  # {{ urgent.text }}

    code, report = run_json(nb)
    assert (
        code == 0 and by_id(report)["triage"]["cache_hit"] and by_id(report)["reply"]["cache_hit"]
    )
    assert len(openai_server.requests) == 2
