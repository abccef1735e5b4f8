"""Prompt cells end to end: `strata run`'s engine against a real chat-completions server on
loopback (openai_server.py), counting the requests it receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openai_server import OpenAIServer, Reply, openai_server

from strata_engine.kinds.prompt import PROMPT_MIME
from strata_engine.run.events import CellFinished, CellStream, RunReport
from strata_engine.run.session import Session

__all__ = ["openai_server"]

KEY = "sk-strata-test-0123456789abcdef"
KEY_VAR = "STRATA_TEST_OPENAI_KEY"


def write_prompt_notebook(
    root: Path, cells: dict[str, tuple[str, str]], *, url: str, ai: str = ""
) -> Path:
    """cells: id -> (language, source)."""
    (root / "cells").mkdir(parents=True, exist_ok=True)
    lines = [
        'notebook_id = "prompt-test"',
        "[ai]",
        f'base_url = "{url}"',
        f'api_key_env = "{KEY_VAR}"',
        ai or 'model = "test-model"',
        "",
    ]
    for order, (cell_id, (language, source)) in enumerate(cells.items(), start=1):
        file = f"{cell_id}.{'prompt' if language == 'prompt' else 'py'}"
        (root / "cells" / file).write_text(source)
        lines += [
            "[[cells]]",
            f'id = "{cell_id}"',
            f'file = "{file}"',
            f'language = "{language}"',
            f"order = {order}",
            "",
        ]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VAR, KEY)


Runner = Callable[..., RunReport]


@pytest.fixture
def run_nb() -> Iterator[Runner]:
    """Run a notebook directory as it is on disk now; one session (and warm worker) per
    directory, like the editor's, closed after the test."""
    sessions: dict[Path, Session] = {}

    def runner(directory: Path, **kwargs: object) -> RunReport:
        session = sessions.get(directory)
        if session is None:
            session = sessions[directory] = Session(directory)
        else:
            session.reload()
        return session.run(**kwargs)  # type: ignore[arg-type]

    yield runner
    for session in sessions.values():
        session.close()


def cell(report: RunReport, cell_id: str) -> dict[str, object]:
    return next(c.to_json() for c in report.cells if c.id == cell_id)


def output(directory: Path, cell_id: str, name: str = "result") -> object:
    from strata_engine.store import load_value

    with Session(directory) as session:
        status = session.states()[cell_id]
        assert status.entry is not None, status.state
        return load_value(session.blobs, status.entry.outputs[name])


TOPIC_CELLS = {
    "topic": ("python", 'topic = "cats"\n'),
    "ask": ("prompt", "# @temperature 0.2\nWrite one line about {{ topic }}.\n"),
}


@pytest.mark.usefixtures("keyed")
def test_a_run_sends_one_request_and_a_rerun_none(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    openai_server.default = Reply("Cats nap a lot.")
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    report = run_nb(nb)
    assert report.success, report.cells
    assert len(openai_server.requests) == 1
    sent = openai_server.requests[0]
    assert sent.body["model"] == "test-model" and sent.body["temperature"] == 0.2
    assert sent.body["stream"] is True
    assert sent.user_text == "Write one line about cats."
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert cell(report, "ask")["stdout"] == "Cats nap a lot.\n"
    assert output(nb, "ask") == "Cats nap a lot."

    again = run_nb(nb)
    assert cell(again, "ask")["cache_hit"] is True
    assert cell(again, "ask")["stdout"] == "Cats nap a lot.\n"  # replayed, not asked again
    assert len(openai_server.requests) == 1


@pytest.mark.usefixtures("keyed")
@pytest.mark.parametrize(
    ("edit", "sends"),
    [
        (lambda t: t.replace("one line", "two lines"), 1),  # the template
        (lambda t: "# @model other-model\n" + t, 1),
        (lambda t: t.replace("0.2", "0.7"), 1),  # temperature
        (lambda t: "# @max_tokens 50\n" + t, 1),
        (lambda t: "# @system Be brief.\n" + t, 1),
        (lambda t: "# @validate_retries 5\n" + t, 0),  # how hard we try, not what we ask
        (lambda t: "# just a comment\n" + t + "\n\n", 0),
    ],
)
def test_what_the_key_covers(
    tmp_path: Path,
    openai_server: OpenAIServer,
    run_nb: Runner,
    edit: Callable[[str], str],
    sends: int,
) -> None:
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    assert run_nb(nb).success
    prompt_file = nb / "cells" / "ask.prompt"
    prompt_file.write_text(edit(prompt_file.read_text()))
    report = run_nb(nb)
    assert report.success, report.cells
    assert len(openai_server.requests) == 1 + sends
    assert cell(report, "ask")["cache_hit"] is (sends == 0)


@pytest.mark.usefixtures("keyed")
def test_a_changed_input_or_ai_model_asks_again(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    assert run_nb(nb).success
    (nb / "cells" / "topic.py").write_text('topic = "dogs"\n')
    assert run_nb(nb).success
    assert len(openai_server.requests) == 2
    assert openai_server.requests[1].user_text == "Write one line about dogs."
    manifest = nb / "notebook.toml"
    manifest.write_text(manifest.read_text().replace('"test-model"', '"bigger-model"'))
    assert run_nb(nb).success
    assert len(openai_server.requests) == 3
    assert openai_server.requests[2].body["model"] == "bigger-model"


SCHEMA = (
    '{"type": "object", "required": ["category"], "properties": '
    '{"category": {"enum": ["bug", "billing"]}}}'
)


@pytest.mark.usefixtures("keyed")
def test_schema_failures_are_retried_with_the_errors(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    openai_server.script(
        Reply("Sure! It is a bug."),  # not JSON
        Reply('{"category": "outage"}'),  # JSON, breaks the schema
        Reply('```json\n{"category": "bug"}\n```'),
    )
    cells = {"t": ("prompt", f"# @name triage\n# @output_schema {SCHEMA}\nClassify: crash\n")}
    nb = write_prompt_notebook(tmp_path / "nb", cells, url=openai_server.url)
    report = run_nb(nb)
    assert report.success, report.cells
    assert output(nb, "t", "triage") == {"category": "bug"}
    requests = openai_server.requests
    assert len(requests) == 3
    assert "JSON Schema" in requests[0].messages[0]["content"]  # the system message asks
    assert "not valid JSON" in requests[1].messages[-1]["content"]
    assert requests[1].messages[-2] == {"role": "assistant", "content": "Sure! It is a bug."}
    assert "'outage' is not one of ['bug', 'billing']" in requests[2].messages[-1]["content"]
    assert "asking again" in str(cell(report, "t")["stderr"])


@pytest.mark.usefixtures("keyed")
def test_schema_failure_after_the_retries_is_a_clear_error(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    openai_server.default = Reply('{"category": "outage"}')
    cells = {
        "t": ("prompt", f"# @validate_retries 1\n# @output_schema {SCHEMA}\nClassify: crash\n"),
        "after": ("python", "print(result)\n"),
    }
    nb = write_prompt_notebook(tmp_path / "nb", cells, url=openai_server.url)
    report = run_nb(nb)
    assert not report.success
    error = str(cell(report, "t")["error"])
    assert "after 2 answers (@validate_retries 1)" in error
    assert "'outage' is not one of" in error
    assert len(openai_server.requests) == 2
    assert cell(report, "after")["status"] == "skipped"
    run_nb(nb)  # a failure is not a cached answer: asked again
    assert len(openai_server.requests) == 4


@pytest.mark.usefixtures("keyed")
def test_output_json_without_schema(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    openai_server.default = Reply('[1, 2, {"a": null}]')
    cells = {"j": ("prompt", "# @output json\nList things.\n")}
    nb = write_prompt_notebook(tmp_path / "nb", cells, url=openai_server.url)
    assert run_nb(nb).success
    assert output(nb, "j") == [1, 2, {"a": None}]


@pytest.mark.usefixtures("keyed")
def test_rate_limit_and_server_error_are_retried(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    openai_server.script(
        Reply(status=429, headers={"Retry-After": "0"}, error="slow down"),
        Reply(status=503, headers={"retry-after-ms": "1"}),
        Reply("finally"),
    )
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    report = run_nb(nb)
    assert report.success, report.cells
    assert output(nb, "ask") == "finally"
    assert len(openai_server.requests) == 3
    stderr = str(cell(report, "ask")["stderr"])
    assert "429 (rate limited): slow down; retrying in 0 s" in stderr
    assert "503" in stderr


@pytest.mark.usefixtures("keyed")
def test_persistent_rate_limit_is_reported_after_bounded_attempts(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    openai_server.default = Reply(status=429, headers={"Retry-After": "0"}, error="quota")
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    report = run_nb(nb)
    error = str(cell(report, "ask")["error"])
    assert f"{openai_server.url} answered 429 (rate limited): quota" in error
    assert "gave up after 5 attempts" in error
    assert len(openai_server.requests) == 5


@pytest.mark.usefixtures("keyed")
def test_a_retry_after_beyond_the_budget_fails_at_once(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    openai_server.default = Reply(status=429, headers={"Retry-After": "3600"})
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    error = str(cell(run_nb(nb), "ask")["error"])
    assert "asks to wait 3600 s" in error and "Try again later" in error
    assert len(openai_server.requests) == 1


@pytest.mark.usefixtures("keyed")
def test_a_client_error_is_not_retried(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    openai_server.default = Reply(status=404, error="The model `nope` does not exist")
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    error = str(cell(run_nb(nb), "ask")["error"])
    assert "answered 404 (not found: check the model name" in error
    assert "does not exist" in error
    assert len(openai_server.requests) == 1


def test_missing_key_fails_only_that_cell(
    tmp_path: Path,
    openai_server: OpenAIServer,
    run_nb: Runner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cells = {
        **TOPIC_CELLS,
        "uses": ("python", "print(result)\n"),
        "other": ("python", "x = 6 * 7\nprint(x)\n"),
    }
    nb = write_prompt_notebook(tmp_path / "nb", cells, url=openai_server.url, ai='model = "m"')
    manifest = nb / "notebook.toml"
    manifest.write_text(manifest.read_text().replace(f'api_key_env = "{KEY_VAR}"\n', ""))
    report = run_nb(nb)
    error = str(cell(report, "ask")["error"])
    assert "set the environment variable OPENAI_API_KEY" in error and "nothing was sent" in error
    assert cell(report, "topic")["status"] == "ok"
    assert cell(report, "other")["status"] == "ok" and cell(report, "other")["stdout"] == "42\n"
    assert cell(report, "uses")["status"] == "skipped"
    assert openai_server.requests == []


def test_a_blank_env_entry_does_not_hide_the_real_key(
    tmp_path: Path,
    openai_server: OpenAIServer,
    run_nb: Runner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A save writes secret-looking [env] values as "" (SPEC 2): the process's value wins."""
    monkeypatch.setenv(KEY_VAR, KEY)
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    manifest = nb / "notebook.toml"
    manifest.write_text(f'[env]\n{KEY_VAR} = ""\n' + manifest.read_text())
    assert run_nb(nb).success
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.usefixtures("keyed")
def test_the_key_never_reaches_the_store_the_report_or_an_error(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    cells = {
        **TOPIC_CELLS,
        "bad": ("prompt", "# @name bad\n# @model other\nhello\n"),
    }
    # A server that echoes the key in its error (some proxies do): the message is scrubbed.
    openai_server.by_model["other"] = Reply(status=401, error=f"Incorrect API key provided: {KEY}")
    nb = write_prompt_notebook(tmp_path / "nb", cells, url=openai_server.url)
    report = run_nb(nb)
    bad = cell(report, "bad")
    assert f"rejected the API key in ${KEY_VAR} (401)" in str(bad["error"])
    assert "[redacted]" in str(bad["error"])
    text = json.dumps([c.to_json() for c in report.cells])
    assert KEY not in text
    for path in (nb / ".strata").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in (nb / "notebook.toml").read_text()


@pytest.mark.usefixtures("keyed")
def test_tokens_stream_before_the_cell_finishes(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    gate = threading.Event()
    reply = Reply("first second third", gate=gate)
    openai_server.script(reply)
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    seen: list[object] = []

    def on_event(event: object) -> None:
        seen.append(event)
        if isinstance(event, CellStream) and event.text.startswith("first"):
            gate.set()  # the server holds the rest of the answer until this chunk arrived

    report = run_nb(nb, on_event=on_event)
    assert report.success
    assert reply.gate_released is True
    streams = [e for e in seen if isinstance(e, CellStream) and e.cell_id == "ask"]
    finished = next(
        i for i, e in enumerate(seen) if isinstance(e, CellFinished) and e.run.id == "ask"
    )
    assert seen.index(streams[0]) < finished
    assert "".join(e.text for e in streams) == "first second third\n"


@pytest.mark.usefixtures("keyed")
def test_tables_and_attributes_render_bounded(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    cells = {
        "data": (
            "python",
            "import pandas as pd\n"
            "df = pd.DataFrame({'n': range(100_000), 's': ['x' * 20] * 100_000})\n"
            "cfg = {'team': 'infra'}\n"
            "long = 'y' * 1_000_000\n",
        ),
        "ask": ("prompt", "Team {{ cfg.team }}.\n{{ df }}\n{{ long }}\n"),
    }
    nb = write_prompt_notebook(tmp_path / "nb", cells, url=openai_server.url)
    assert run_nb(nb).success
    text = openai_server.requests[0].user_text
    assert text.startswith("Team infra.\n")
    assert "[100,000 rows x 2 columns; first 20 shown]" in text
    assert "[... cut: 1,000,000 characters in all]" in text
    assert len(text) < 20_000


@pytest.mark.usefixtures("keyed")
def test_an_unknown_placeholder_or_attribute_is_the_cells_error(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    cells = {
        "cfg": ("python", "cfg = {'team': 'infra'}\n"),
        "a": ("prompt", "# @name a\n{{ cfg.owner }}\n"),
        "b": ("prompt", "# @name b\n{{ _private }}\n"),
    }
    nb = write_prompt_notebook(tmp_path / "nb", cells, url=openai_server.url)
    report = run_nb(nb)
    assert "cfg (a dict) has no attribute or key 'owner'" in str(cell(report, "a")["error"])
    assert "no upstream cell defines '_private'" in str(cell(report, "b")["error"])
    assert openai_server.requests == []


@pytest.mark.usefixtures("keyed")
def test_the_prompt_model_and_usage_are_kept_for_the_hover(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    openai_server.default = Reply("ok", usage=(123, 45))
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url)
    run_nb(nb)
    again = next(c for c in run_nb(nb).cells if c.id == "ask")  # served from the cache
    assert again.cache_hit
    bundle = next(d for d in again.displays if PROMPT_MIME in d)
    info = json.loads(bundle[PROMPT_MIME])
    assert info["model"] == "test-model"
    assert info["prompt"] == "Write one line about cats."
    assert info["usage"]["prompt_tokens"] == 123 and info["usage"]["completion_tokens"] == 45
    assert bundle["text/plain"] == "test-model: 123 prompt + 45 completion tokens, 1 request"


@pytest.mark.usefixtures("keyed")
def test_no_model_anywhere_is_a_clear_error(
    tmp_path: Path, openai_server: OpenAIServer, run_nb: Runner
) -> None:
    nb = write_prompt_notebook(tmp_path / "nb", TOPIC_CELLS, url=openai_server.url, ai="# none")
    error = str(cell(run_nb(nb), "ask")["error"])
    assert "add `# @model NAME`" in error
    assert openai_server.requests == []
