"""What runs inside a prompt cell's process: render the template, ask the model, publish.

The local backend forks this from its warm zygote like a Python cell (`run_job(job,
channel)`, the same records on the result channel). The engine prepared everything the
cell computes with in `job["config"]` (`PromptKind.job_config`): the template, the model
settings and the endpoint. The API key is read here, from the environment, and never
leaves this process: not in the result, a display, the console or an error.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strata_engine.backends.local.harness import ResultChannel, describe_exception
from strata_engine.backends.local.protocol import Message
from strata_engine.kinds.prompt import PROMPT_MIME
from strata_engine.kinds.prompt_answer import AnswerFailure, Shape, ask, check_schema
from strata_engine.kinds.prompt_client import (
    ChatClient,
    Endpoint,
    PromptFailure,
    chat_messages,
    shown_url,
)
from strata_engine.kinds.prompt_render import RenderError, bound, render_template

DEFAULT_KEY_VAR = "OPENAI_API_KEY"
DEFAULT_TIMEOUT = 120.0
DEFAULT_VALIDATE_RETRIES = 3
HOVER_PROMPT_CHARS = 20000


def run_job(job: Message, channel: ResultChannel) -> None:
    """Run one prompt cell job and send its result record."""
    channel.send({"started": os.getpid()})
    try:
        result = _run(job, channel)
    except Exception as exc:  # a bug here, not in the cell: say so rather than just exit
        result = _failure(
            f"internal error in the prompt cell harness: {describe_exception(exc)}",
            "".join(traceback.format_exception(exc)),
        )
    channel.send({"result": result})


def _run(job: Message, channel: ResultChannel) -> Message:
    config: dict[str, Any] = job["config"]
    key_var = str(config.get("api_key_env") or DEFAULT_KEY_VAR)
    # A blank [env] entry is what a save leaves of a secret (SPEC 2): the real value is the
    # process environment's, so read it before the cell's env is applied over it.
    api_key = job["env"].get(key_var) or os.environ.get(key_var, "")
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    blobs = _blobs(job)
    try:
        values = _load_inputs(job["inputs"], blobs)
        prompt = render_template(str(config["template"]), values)
        shape = _shape(config)
        check_schema(shape.schema)
        model = config.get("model")
        if not model:
            return _failure(
                "no model for this prompt cell: add `# @model NAME` to the cell or "
                '`[ai] model = "NAME"` to notebook.toml'
            )
        if not api_key:
            return _failure(_missing_key(key_var, config))
        chat = ChatClient(
            Endpoint(
                base_url=config.get("base_url"),
                api_key=api_key,
                key_var=key_var,
                timeout=float(config.get("timeout_seconds") or DEFAULT_TIMEOUT),
            )
        )
        system = _system(config.get("system"), shape)
        request = {"model": model, "messages": chat_messages(system, prompt), **_settings(config)}
        try:
            answer = ask(chat, request, shape)
        finally:
            channel.send({"display": _prompt_display(config, model, system, prompt, chat)})
    except (RenderError, AnswerFailure, PromptFailure) as exc:
        return _failure(str(exc))
    except _InputError as exc:
        return _failure(str(exc), exc.tb)
    return _publish(job, str(config["output_name"]), answer, blobs)


def _missing_key(key_var: str, config: Mapping[str, Any]) -> str:
    where = shown_url(config.get("base_url"))
    named = "" if key_var == DEFAULT_KEY_VAR else " ([ai] api_key_env names it)"
    return (
        f"no API key for {where}: set the environment variable {key_var}{named} before running "
        f"(e.g. `export {key_var}=...`). Keys are read from the environment only, never from "
        "notebook.toml; nothing was sent"
    )


def _shape(config: Mapping[str, Any]) -> Shape:
    schema = config.get("output_schema")
    retries = config.get("validate_retries")
    return Shape(
        json=config.get("output") == "json" or schema is not None,
        schema=schema if isinstance(schema, dict) else None,
        retries=DEFAULT_VALIDATE_RETRIES if retries is None else int(retries),
    )


def _system(system: object, shape: Shape) -> str | None:
    parts = [str(system)] if system else []
    instruction = shape.instruction()
    if instruction:
        parts.append(instruction)
    return "\n\n".join(parts) or None


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Sampling settings the cell gives (the server's defaults apply to the others)."""
    return {k: config[k] for k in ("temperature", "max_tokens") if config.get(k) is not None}


def _prompt_display(
    config: Mapping[str, Any], model: str, system: str | None, prompt: str, chat: ChatClient
) -> dict[str, str]:
    usage = chat.usage.to_json()
    info = {
        "model": model,
        "endpoint": shown_url(config.get("base_url")),
        "system": system,
        "prompt": bound(prompt, HOVER_PROMPT_CHARS),
        "usage": usage,
    }
    plain = (
        f"{model}: {usage['prompt_tokens']} prompt + {usage['completion_tokens']} completion "
        f"tokens, {usage['requests']} request{'s' if usage['requests'] != 1 else ''}"
    )
    return {"text/plain": chat.scrub(plain), PROMPT_MIME: chat.scrub(json.dumps(info))}


# -- inputs and the output ------------------------------------------------------------------------
class _InputError(Exception):
    def __init__(self, message: str, tb: str) -> None:
        super().__init__(message)
        self.tb = tb


def _blobs(job: Message) -> Any:
    if not job["inputs"] and not job["publish"]:
        return None
    from strata_engine.store import BlobStore

    return BlobStore(Path(job["store"]["root"]), durable=job["store"]["durable"])


def _load_inputs(inputs: Mapping[str, Any], blobs: Any) -> dict[str, Any]:
    if not inputs:
        return {}
    from strata_engine.store import StoredValue, load_value

    values: dict[str, Any] = {}
    for name, stored in inputs.items():
        try:
            values[name] = load_value(blobs, StoredValue.from_json(stored))
        except Exception as exc:
            raise _InputError(
                f"could not load input {name!r}: {describe_exception(exc)}",
                "".join(traceback.format_exception(exc)),
            ) from exc
    return values


def _publish(job: Message, name: str, answer: object, blobs: Any) -> Message:
    if name not in job["publish"]:
        return {"status": "ok", "outputs": {}, "unstored": {}}
    from strata_engine.store import store_value

    try:
        stored = store_value(blobs, name, answer)
    except Exception as exc:
        print(f"strata: not storing {name!r}: {describe_exception(exc)}", file=sys.stderr)
        if name in job["required"]:
            return _failure(f"cannot store the answer {name!r}: {describe_exception(exc)}")
        return {"status": "ok", "outputs": {}, "unstored": {name: type(answer).__name__}}
    return {"status": "ok", "outputs": {name: stored.to_json()}, "unstored": {}}


def _failure(error: str, tb: str | None = None) -> Message:
    return {"status": "error", "error": error, "traceback": tb, "outputs": {}, "unstored": {}}
