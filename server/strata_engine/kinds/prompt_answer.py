"""Asking for an answer of the right shape: text, or JSON validated against `@output_schema`.

An answer that is not JSON, or that breaks the schema, is sent back to the model with the
validation errors, up to `@validate_retries` times; then the cell fails with the last
errors. The schema itself is checked before any request, so a broken schema costs nothing.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

MAX_ERRORS = 8
"""Validation errors listed per answer (to the model and in the cell's error)."""
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(?P<body>.*?)\n?\s*```\s*$", re.DOTALL)


class Chat(Protocol):
    def complete(self, request: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class Shape:
    """What the answer must be."""

    json: bool
    schema: Mapping[str, Any] | None
    retries: int

    def instruction(self) -> str | None:
        """Appended to the system message when JSON is asked for."""
        if not self.json:
            return None
        text = "Answer with a single JSON value and nothing else: no prose, no code fences."
        if self.schema is not None:
            text += " The value must satisfy this JSON Schema: " + json.dumps(
                self.schema, sort_keys=True
            )
        return text


class AnswerFailure(Exception):
    """No valid answer after every retry (or an unusable schema)."""


def check_schema(schema: Mapping[str, Any] | None) -> None:
    if schema is None:
        return
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        raise AnswerFailure(
            f"@output_schema is not a valid JSON Schema: {exc.message}; fix the schema "
            "(nothing was sent to the model)"
        ) from None


def ask(
    chat: Chat,
    request: Mapping[str, Any],
    shape: Shape,
    *,
    err: TextIO | None = None,
) -> object:
    """The answer: a str, or the parsed and validated JSON value."""
    err = err or sys.stderr
    messages: list[dict[str, str]] = list(request["messages"])
    for attempt in range(shape.retries + 1):
        text = chat.complete({**request, "messages": messages})
        if not shape.json:
            return text
        value, errors = parse_and_validate(text, shape.schema)
        if not errors:
            return value
        listed = "; ".join(errors)
        if attempt == shape.retries:
            what = "JSON" if shape.schema is None else "JSON satisfying @output_schema"
            raise AnswerFailure(
                f"the model did not answer with {what} after {attempt + 1} answers "
                f"(@validate_retries {shape.retries}); last problems: {listed}. Make the prompt "
                "more explicit, relax the schema or raise @validate_retries"
            )
        err.write(
            f"strata: answer {attempt + 1} is not valid ({listed}); asking again "
            f"({attempt + 1} of {shape.retries} retries)\n"
        )
        err.flush()
        messages = [
            *messages,
            {"role": "assistant", "content": text},
            {"role": "user", "content": correction(errors)},
        ]
    raise AssertionError("unreachable")


def correction(errors: Sequence[str]) -> str:
    lines = "\n".join(f"- {e}" for e in errors)
    return f"Your answer was not valid:\n{lines}\nReply again with only the corrected JSON value."


def parse_and_validate(text: str, schema: Mapping[str, Any] | None) -> tuple[object, list[str]]:
    """(value, errors): errors is empty when the text is JSON that satisfies the schema."""
    fenced = _FENCE.match(text)
    body = fenced.group("body") if fenced else text
    try:
        value = json.loads(body)
    except ValueError as exc:
        return None, [f"not valid JSON: {exc}"]
    if schema is None:
        return value, []
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    found = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    errors = [f"at {e.json_path}: {e.message}" for e in found[:MAX_ERRORS]]
    if len(found) > MAX_ERRORS:
        errors.append(f"and {len(found) - MAX_ERRORS} more")
    return value, errors
