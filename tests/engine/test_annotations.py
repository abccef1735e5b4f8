"""The annotation grammar (SPEC 4) and its syntactic diagnostics (SPEC 11)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strata_engine.analysis.annotations import (
    KNOWN_KEYS,
    PER_VARIANT_ANY_GROUP,
    Annotations,
    LoopSpec,
    MountSpec,
    annotation_body,
    parse_annotations,
)
from strata_engine.kinds import ANNOTATION_DOCS, kind_for
from strata_engine.model.diagnostics import CODES, Span


def codes(ann: Annotations) -> list[str]:
    return [d.code for d in ann.diagnostics]


def one(text: str) -> Annotations:
    return parse_annotations(text + "\nx = 1\n")


# --- the leading block ------------------------------------------------------------------------


def test_directives_in_leading_block_with_blank_lines_and_plain_comments() -> None:
    text = "# A title comment\n\n# @name  Load data  \n#@worker gpu\n   #   @TIMEOUT 30\nx = 1\n"
    ann = parse_annotations(text)
    assert ann.name == "Load data"
    assert ann.worker == "gpu"
    assert ann.timeout == 30.0
    assert [d.key for d in ann.directives] == ["name", "worker", "timeout"]
    assert ann.body_start_line == 6
    assert ann.diagnostics == ()


def test_annotations_after_the_first_code_line_are_ignored() -> None:
    ann = parse_annotations("# @name first\nimport os\n# @name second\n# @bogus x\n")
    assert ann.name == "first"
    assert ann.diagnostics == ()
    assert ann.body_start_line == 2


def test_cell_without_code_has_body_start_after_last_line() -> None:
    ann = parse_annotations("# @name only\n# @nocache")
    assert ann.body_start_line == 3
    assert ann.nocache is True


def test_empty_text() -> None:
    ann = parse_annotations("")
    assert ann.directives == ()
    assert ann.body_start_line == 2
    assert ann.computing_items() == []


def test_crlf_and_cr_line_endings_count_lines_like_editors() -> None:
    ann = parse_annotations("# @name a\r\n\r# @worker w\r\nx = 1\r\n")
    assert ann.name == "a"
    assert ann.worker == "w"
    assert ann.find("worker") is not None
    assert ann.find("worker").line == 3  # type: ignore[union-attr]
    assert ann.body_start_line == 4


def test_spans_of_key_and_value() -> None:
    ann = parse_annotations("#  @Name   My cell  \n")
    d = ann.directives[0]
    assert (d.key, d.value, d.line) == ("name", "My cell", 1)
    assert d.key_span == Span(1, 4, 1, 8)
    assert d.value_span == Span(1, 11, 1, 18)


def test_empty_value_has_empty_span_at_end_of_key() -> None:
    d = parse_annotations("# @nocache\n").directives[0]
    assert d.value == ""
    assert d.value_span == Span(1, 10, 1, 10)


def test_indented_code_line_ends_the_block() -> None:
    ann = parse_annotations("# @name a\n    x = 1\n# @worker w\n")
    assert ann.worker is None
    assert ann.body_start_line == 2


def test_hash_inside_code_line_is_not_a_comment_line() -> None:
    ann = parse_annotations("x = 1  # @name nope\n")
    assert ann.directives == ()


def test_annotation_body_removes_the_leading_block() -> None:
    text = "# @name q\n# plain\n\nSELECT 1\n# not removed\n"
    assert annotation_body(text) == "SELECT 1\n# not removed\n"
    assert annotation_body("SELECT 1") == "SELECT 1"
    assert annotation_body("# @name only\n") == ""


def test_last_single_valued_directive_wins() -> None:
    ann = one("# @name a\n# @name b")
    assert ann.name == "b"
    assert ann.find("name") is not None and ann.find("name").value == "b"  # type: ignore[union-attr]
    assert [d.value for d in ann.find_all("name")] == ["a", "b"]


# --- unknown and malformed keys -----------------------------------------------------------------


def test_unknown_key_with_did_you_mean() -> None:
    ann = one("# @timout 30")
    (diag,) = ann.diagnostics
    assert diag.code == "annotation_unknown"
    assert diag.severity == "warning"
    assert "'@timeout'" in diag.message
    assert diag.data == {"suggestion": "timeout"}
    assert diag.span == Span(1, 3, 1, 9)
    assert ann.timeout is None
    assert ann.directives == ()


def test_unknown_key_without_suggestion() -> None:
    (diag,) = one("# @zzzzzz").diagnostics
    assert diag.code == "annotation_unknown"
    assert diag.data is None


def test_dashed_key_suggests_underscore_key() -> None:
    (diag,) = one("# @max-tokens 5").diagnostics
    assert diag.data == {"suggestion": "max_tokens"}


def test_key_glued_to_value_is_reported_not_ignored() -> None:
    ann = one("# @timeout:30")
    (diag,) = ann.diagnostics
    assert diag.code == "annotation_unknown"
    assert "malformed" in diag.message
    assert diag.data == {"suggestion": "timeout"}
    assert ann.timeout is None


def test_comment_mentioning_an_email_is_not_a_directive() -> None:
    assert one("# contact me@example.com").diagnostics == ()


def test_diagnostics_carry_cell_and_file_and_registered_severity() -> None:
    ann = parse_annotations("# @timeout x\n", cell_id="c1", file="cells/c1.py")
    (diag,) = ann.diagnostics
    assert (diag.cell_id, diag.file) == ("c1", "cells/c1.py")
    assert diag.severity == CODES[diag.code]


# --- timeout ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("30", 30.0), ("0.5", 0.5), ("86400", 86400.0)])
def test_timeout_valid(value: str, expected: float) -> None:
    ann = one(f"# @timeout {value}")
    assert ann.timeout == expected
    assert ann.diagnostics == ()


@pytest.mark.parametrize("value", ["abc", "0", "-1", "86401", "nan", "inf", "", "30s"])
def test_timeout_invalid(value: str) -> None:
    ann = one(f"# @timeout {value}")
    assert ann.timeout is None
    (diag,) = ann.diagnostics
    assert diag.code == "timeout_not_numeric"
    assert diag.span is not None and diag.span.line == 1


# --- env --------------------------------------------------------------------------------------


def test_env_pairs_in_order() -> None:
    ann = one('# @env A=1\n# @env B = two words \n# @env A=3\n# @env Q="  spaced "\n# @env E=')
    assert ann.env == (("A", "1"), ("B", "two words"), ("A", "3"), ("Q", "  spaced "), ("E", ""))
    assert ann.diagnostics == ()


@pytest.mark.parametrize("value", ["NOEQUALS", "1BAD=x", "BAD-NAME=x", "=x", ""])
def test_env_malformed(value: str) -> None:
    ann = one(f"# @env {value}")
    assert ann.env == ()
    assert codes(ann) == ["env_malformed"]


# --- mount ------------------------------------------------------------------------------------


def test_mounts() -> None:
    ann = one("# @mount data s3://bucket/x\n# @mount out file:///tmp/out RW\n# @mount g gs://b ro")
    assert [(m.name, m.uri, m.mode) for m in ann.mounts] == [
        ("data", "s3://bucket/x", "ro"),
        ("out", "file:///tmp/out", "rw"),
        ("g", "gs://b", "ro"),
    ]
    assert ann.mounts[0].span == Span(1, 9, 1, 27)
    assert ann.diagnostics == ()


@pytest.mark.parametrize("scheme", ["file", "s3", "gs", "gcs", "az", "azure"])
def test_mount_supported_schemes(scheme: str) -> None:
    assert one(f"# @mount d {scheme}://x/y").diagnostics == ()


@pytest.mark.parametrize("uri", ["http://x", "/abs/path", "ftp://host", "bucket"])
def test_mount_unsupported_uri_is_reported_on_the_uri(uri: str) -> None:
    ann = one(f"# @mount d {uri}")
    (diag,) = ann.diagnostics
    assert diag.code == "mount_uri_unsupported"
    assert diag.span == Span(1, 11, 1, 11 + len(uri))


@pytest.mark.parametrize("value", ["d", "", "1bad s3://x", "my-name s3://x"])
def test_mount_malformed(value: str) -> None:
    ann = one(f"# @mount {value}")
    assert ann.mounts == ()
    assert codes(ann) == ["mount_uri_unsupported"]


@pytest.mark.parametrize("mode", ["rx", "ro extra"])
def test_mount_mode_invalid_falls_back_to_read_only(mode: str) -> None:
    ann = one(f"# @mount d s3://b {mode}")
    assert codes(ann) == ["mount_mode_invalid"]
    assert ann.mounts == (MountSpec("d", "s3://b", "ro", ann.mounts[0].span),)


def test_effective_mounts_merge_by_name() -> None:
    ann = one("# @mount b s3://one\n# @mount a s3://a\n# @mount b s3://two rw")
    assert [(m.name, m.uri, m.mode) for m in ann.effective_mounts()] == [
        ("a", "s3://a", "ro"),
        ("b", "s3://two", "rw"),
    ]


# --- nocache, after ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("", True), ("on", True), ("off", False), ("OFF", False), ("no", False)]
)
def test_nocache(value: str, expected: bool) -> None:
    assert one(f"# @nocache {value}").nocache is expected


def test_after_collects_ids_from_all_lines_in_order_without_duplicates() -> None:
    ann = one("# @after load clean\n# @after clean, train,model")
    assert ann.after == ("load", "clean", "train", "model")
    assert ann.diagnostics == ()


def test_after_without_ids() -> None:
    assert codes(one("# @after")) == ["after_unknown"]


# --- loop ---------------------------------------------------------------------------------------


def test_loop_full() -> None:
    ann = one("# @loop max_iter=10 carry=state start_from=train@iter=3\n# @loop_until  delta<1e-3")
    assert ann.loop == LoopSpec(10, "state", ("train", 3))
    assert ann.loop_until == "delta<1e-3"
    assert ann.diagnostics == ()


def test_loop_start_from_id_may_contain_at_sign() -> None:
    assert one("# @loop max_iter=2 carry=s start_from=a@b@iter=0").loop == LoopSpec(
        2, "s", ("a@b", 0)
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("carry=s", ["loop_missing_max_iter"]),
        ("max_iter=0 carry=s", ["loop_missing_max_iter"]),
        ("max_iter=abc carry=s", ["loop_missing_max_iter"]),
        ("max_iter=²  carry=s", ["loop_missing_max_iter"]),
        ("max_iter=3", ["loop_missing_carry"]),
        ("max_iter=3 carry=1x", ["loop_missing_carry"]),
        ("", ["loop_missing_max_iter", "loop_missing_carry"]),
        ("max_iter=3 carry=s start_from=train", ["loop_start_from_unknown"]),
        ("max_iter=3 carry=s start_from=train@iter=x", ["loop_start_from_unknown"]),
    ],
)
def test_loop_problems(value: str, expected: list[str]) -> None:
    ann = one(f"# @loop {value}")
    assert codes(ann) == expected
    assert ann.loop is not None
    assert all(CODES[c] == "error" for c in expected)


def test_loop_missing_max_iter_points_at_the_bad_token() -> None:
    (diag,) = one("# @loop carry=s max_iter=0").diagnostics
    assert diag.span == Span(1, 16, 1, 26)


@pytest.mark.parametrize("expr", ["x >", "", "import os", "a = 1"])
def test_loop_until_syntax_error(expr: str) -> None:
    ann = one(f"# @loop_until {expr}")
    assert codes(ann) == ["loop_until_syntax_error"]
    assert ann.loop_until is None


# --- variants -----------------------------------------------------------------------------------


def test_variant() -> None:
    ann = one("# @variant model linear")
    assert ann.variant == ("model", "linear")


@pytest.mark.parametrize("value", ["", "model", "a b c"])
def test_variant_malformed(value: str) -> None:
    ann = one(f"# @variant {value}")
    assert ann.variant is None
    assert codes(ann) == ["variant_malformed"]


def test_per_variant() -> None:
    assert one("# @name x").per_variant is None
    assert one("# @per_variant").per_variant == PER_VARIANT_ANY_GROUP
    assert one("# @per_variant model").per_variant == "model"
    assert codes(one("# @per_variant a b")) == ["variant_malformed"]


# --- sql and cache -------------------------------------------------------------------------------


def test_sql_connection_and_write() -> None:
    ann = one("# @sql connection=warehouse write=TRUE")
    assert (ann.sql_connection, ann.sql_write) == ("warehouse", True)
    assert one("# @sql connection=w write=false").sql_write is False
    assert one("# @sql w").sql_connection == "w"


def test_sql_without_connection() -> None:
    ann = one("# @sql write=true")
    assert ann.sql_connection is None
    assert codes(ann) == ["sql_connection_missing"]


def test_sql_bad_write_value() -> None:
    assert codes(one("# @sql connection=w write=maybe")) == ["sql_connection_missing"]


@pytest.mark.parametrize(
    ("value", "policy", "ttl"),
    [
        ("fingerprint", "fingerprint", None),
        ("FOREVER", "forever", None),
        ("session", "session", None),
        ("ttl=60", "ttl", 60.0),
        ("ttl = 1.5", "ttl", 1.5),
    ],
)
def test_cache_policies(value: str, policy: str, ttl: float | None) -> None:
    ann = one(f"# @cache {value}")
    assert (ann.cache_policy, ann.cache_ttl) == (policy, ttl)
    assert ann.diagnostics == ()


def test_cache_policy_unknown_suggests() -> None:
    ann = one("# @cache forevr")
    (diag,) = ann.diagnostics
    assert diag.code == "cache_policy_unknown"
    assert diag.data == {"suggestion": "forever"}
    assert ann.cache_policy is None


@pytest.mark.parametrize("value", ["ttl", "ttl=", "ttl=abc", "ttl=0", "ttl=-5"])
def test_cache_ttl_invalid(value: str) -> None:
    ann = one(f"# @cache {value}")
    assert codes(ann) == ["cache_ttl_invalid"]
    assert ann.cache_policy is None


def test_cache_session_with_value_is_unknown() -> None:
    assert codes(one("# @cache session=3")) == ["cache_policy_unknown"]


# --- prompt settings -----------------------------------------------------------------------------


def test_prompt_settings() -> None:
    text = (
        "# @model gpt-4o-mini\n# @temperature 0.2\n# @max_tokens 500\n"
        "# @system You are terse.\n# @system Answer in French.\n# @output JSON\n"
        '# @output_schema {"type": "object", "required": ["a"]}\n# @validate_retries 0'
    )
    prompt = one(text).prompt
    assert prompt.model == "gpt-4o-mini"
    assert prompt.temperature == 0.2
    assert prompt.max_tokens == 500
    assert prompt.system == "You are terse.\nAnswer in French."
    assert prompt.output == "json"
    assert prompt.output_schema == {"type": "object", "required": ["a"]}
    assert prompt.validate_retries == 0


@pytest.mark.parametrize("value", ["{not json", "[1, 2]", '"a string"', ""])
def test_output_schema_invalid(value: str) -> None:
    ann = one(f"# @output_schema {value}")
    assert codes(ann) == ["prompt_output_schema_invalid"]
    assert ann.prompt.output_schema is None


def test_output_format_invalid() -> None:
    assert codes(one("# @output xml")) == ["prompt_output_schema_invalid"]


def test_bad_numeric_prompt_settings_fall_back_to_defaults() -> None:
    prompt = one("# @temperature hot\n# @max_tokens 0\n# @validate_retries -1").prompt
    assert (prompt.temperature, prompt.max_tokens, prompt.validate_retries) == (None, None, None)


def test_annotations_with_schema_are_hashable_values() -> None:
    ann = one('# @output_schema {"type": "object"}')
    assert hash(ann) == hash(one('# @output_schema {"type": "object"}'))


# --- computing items -----------------------------------------------------------------------------


def test_display_only_annotations_do_not_enter_computing_items() -> None:
    ann = one("# @name x\n# @worker w\n# @timeout 9\n# @env A=1\n# @nocache\n# @after a")
    assert ann.computing_items() == []


def test_computing_items_cover_spec_6_item_2() -> None:
    text = (
        "# @loop max_iter=3 carry=s\n# @loop_until s>1\n# @variant g v\n# @per_variant\n"
        "# @sql connection=db write=true\n# @cache ttl=5\n# @model m\n# @temperature 0\n"
        '# @output_schema {"b": 1, "a": 2}\n# @mount z s3://z\n# @mount a file:///a rw'
    )
    ann = one(text)
    assert dict(ann.computing_items()) == {
        "loop": {"max_iter": 3, "carry": "s", "start_from": None},
        "loop_until": "s > 1",
        "variant": ["g", "v"],
        "per_variant": "",
        "mounts": [["a", "file:///a", "rw"], ["z", "s3://z", "ro"]],
    }
    # What only SQL and prompt cells compute with is their kind's contribution.
    assert dict(kind_for("sql").key_items(ann)) == {
        "output_name": "result",
        "sql": {"connection": "db", "write": True},
        "cache": {"policy": "ttl", "ttl": 5.0},
    }
    assert dict(kind_for("prompt").key_items(ann)) == {
        "output_name": "result",
        "model": "m",
        "temperature": 0.0,
        "output_schema": '{"a": 2, "b": 1}',
    }
    assert kind_for("python").key_items(ann) == []
    json.dumps(ann.computing_items())  # JSON-able


def test_computing_items_ignore_formatting_differences() -> None:
    a = one('# @loop_until x>1\n# @output_schema {"a":1,"b":2}')
    b = one('# @LOOP_UNTIL   x > 1\n# @output_schema {"b": 2, "a": 1}')
    assert a.computing_items() == b.computing_items()
    assert kind_for("prompt").key_items(a) == kind_for("prompt").key_items(b)


def test_output_name_counts_for_sql_and_prompt_only() -> None:
    ann = one("# @name table")
    assert ann.computing_items() == []
    assert kind_for("python").key_items(ann) == []
    assert kind_for("sql").key_items(ann)[0] == ("output_name", "table")
    assert kind_for("prompt").key_items(one("")) == [("output_name", "result")]


def test_docs_cover_every_key() -> None:
    assert set(ANNOTATION_DOCS) == set(KNOWN_KEYS)
    for key, doc in ANNOTATION_DOCS.items():
        assert f"@{key}" in doc
    for key in KNOWN_KEYS:
        assert codes(parse_annotations(f"# @{key} \n")) != ["annotation_unknown"]


# --- properties ----------------------------------------------------------------------------------

_KEYS = st.sampled_from(KNOWN_KEYS)
_VALUES = st.text(alphabet=st.characters(blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85"))


@given(st.text())
def test_parse_never_raises_and_spans_are_sane(text: str) -> None:
    ann = parse_annotations(text)
    assert ann.body_start_line >= 1
    for d in ann.directives:
        assert d.line < ann.body_start_line
        assert d.key in KNOWN_KEYS
    for diag in ann.diagnostics:
        assert diag.code in CODES
        assert diag.span is None or diag.span.line < ann.body_start_line
    kind_for("sql").key_items(ann)


@given(_KEYS, _VALUES, st.randoms(use_true_random=False))
def test_keys_are_case_insensitive(key: str, value: str, rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    mixed = "".join(c.upper() if rnd.random() < 0.5 else c for c in key)
    lower = parse_annotations(f"# @{key} {value}\n")
    upper = parse_annotations(f"# @{mixed} {value}\n")
    assert lower.directives == upper.directives
    assert [d.code for d in lower.diagnostics] == [d.code for d in upper.diagnostics]
    assert lower.computing_items() == upper.computing_items()


@given(st.lists(st.tuples(_KEYS, _VALUES), max_size=6), st.text(max_size=40))
def test_directives_after_code_never_count(pairs: list[tuple[str, str]], code: str) -> None:
    block = "".join(f"# @{k} {v}\n" for k, v in pairs)
    base = parse_annotations(block + "x = 1\n")
    later = parse_annotations(block + "x = 1\n" + "".join(f"# @{k} {v}\n" for k, v in pairs))
    assert base.directives == later.directives
    assert base.diagnostics == later.diagnostics
