"""The pure parts of prompt cells: rendering, answer validation, Retry-After, URL display."""

from __future__ import annotations

import email.utils
import time

import pandas as pd
import pyarrow as pa
import pytest

from strata_engine.kinds.prompt_answer import AnswerFailure, check_schema, parse_and_validate
from strata_engine.kinds.prompt_client import retry_after, shown_url
from strata_engine.kinds.prompt_render import RenderError, render_template


def test_arrow_tables_series_and_json_render_bounded() -> None:
    table = pa.table({"a": list(range(1000))})
    text = render_template("{{ t }}", {"t": table})
    assert text.endswith("[1,000 rows x 1 columns; first 20 shown]")
    assert render_template("{{s}}", {"s": pd.Series([1, 2])}).endswith("[2 rows x 1 columns]")
    assert render_template("{{ d }}", {"d": {"k": [1, None]}}) == '{"k": [1, null]}'
    assert render_template("{{ d.k }}", {"d": {"k": "v"}}) == "v"


def test_a_placeholder_path_that_does_not_resolve_names_the_step() -> None:
    with pytest.raises(RenderError, match=r"x\.a \(a dict\) has no attribute or key 'b'"):
        render_template("{{ x.a.b }}", {"x": {"a": {}}})


def test_placeholder_syntax_beyond_names_and_attributes_is_refused() -> None:
    with pytest.raises(RenderError, match=r"'\{\{ x \| upper \}\}': only"):
        render_template("Say {{ x | upper }}", {"x": "hi"})
    assert render_template("JSON like {{}} or { {x} } stays", {}) == (
        "JSON like {{}} or { {x} } stays"
    )


def test_answers_in_code_fences_parse_and_schema_errors_name_the_path() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert parse_and_validate('```json\n{"n": 1}\n```', schema) == ({"n": 1}, [])
    _, errors = parse_and_validate('{"n": "one"}', schema)
    assert errors == ["at $.n: 'one' is not of type 'integer'"]
    with pytest.raises(AnswerFailure, match="not a valid JSON Schema"):
        check_schema({"type": "nope"})


def test_retry_after_in_seconds_milliseconds_or_an_http_date() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after({"retry-after": later}) or 0) <= 30
    assert retry_after({}) is None and retry_after({"retry-after": "soon"}) is None


def test_endpoints_are_shown_without_credentials() -> None:
    assert shown_url("https://user:pw@llm.example:8443/v1?x=1") == "https://llm.example:8443/v1"
    assert shown_url(None) == "the OpenAI API"
