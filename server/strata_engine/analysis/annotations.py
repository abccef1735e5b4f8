"""The annotation grammar of SPEC section 4: `# @key value` lines in a cell's leading block.

Parsing is pure and memoized (the language server re-parses on every keystroke). Syntactic
problems become diagnostics on the `Annotations` value; checks that need the notebook (known
workers, cell ids, connections) live in `checks.py`; the value types and the grammar's keys
live in `annotation_types.py`. Lenient readings: `@after` also splits on commas, `@env` values
may be quoted, `@sql NAME` means `connection=NAME`, and `@nocache` with any value but a
false one (off/false/no/0) stays on, so a typo never serves a stale hit.
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import re
from collections.abc import Callable
from functools import lru_cache

from strata_engine.analysis.annotation_types import (
    KNOWN_KEYS,
    PER_VARIANT_ANY_GROUP,
    Annotations,
    Directive,
    LoopSpec,
    MountSpec,
    PromptSettings,
)
from strata_engine.model.diagnostics import Diagnostic, Span, make
from strata_engine.model.timeouts import MAX_TIMEOUT, TIMEOUT_RULE, parse_timeout_text

__all__ = [
    "CACHE_POLICIES",
    "KNOWN_KEYS",
    "MAX_TIMEOUT",
    "MOUNT_SCHEMES",
    "PER_VARIANT_ANY_GROUP",
    "Annotations",
    "Directive",
    "LoopSpec",
    "MountSpec",
    "PromptSettings",
    "annotation_body",
    "directive_tokens",
    "leading_block_end",
    "parse_annotations",
    "split_lines",
]


class _ParseState:
    """What the handlers accumulate while reading one leading block."""

    def __init__(self, cell_id: str | None, file: str | None) -> None:
        self.cell_id, self.file = cell_id, file
        self.fields: dict[str, object] = {}
        self.prompt: dict[str, object] = {}
        self.system: list[str] = []
        self.env: list[tuple[str, str]] = []
        self.mounts: list[MountSpec] = []
        self.after: list[str] = []
        self.diagnostics: list[Diagnostic] = []

    def report(self, code: str, message: str, span: Span, suggestion: str | None = None) -> None:
        data = {"suggestion": suggestion} if suggestion else None
        self.diagnostics.append(
            make(code, message, cell_id=self.cell_id, file=self.file, span=span, data=data)
        )

    def build(self, directives: tuple[Directive, ...], body_start_line: int) -> Annotations:
        if self.system:
            self.prompt["system"] = "\n".join(self.system)
        return Annotations(
            directives,
            body_start_line,
            env=tuple(self.env),
            mounts=tuple(self.mounts),
            after=tuple(self.after),
            prompt=PromptSettings(**self.prompt),  # type: ignore[arg-type]
            diagnostics=tuple(self.diagnostics),
            **self.fields,  # type: ignore[arg-type]
        )


_NEWLINE = re.compile(r"\r\n|\r|\n")
# A key may contain `-` so that `@max-tokens` is reported with a did-you-mean instead of
# being silently ignored as an ordinary comment.
_DIRECTIVE = re.compile(r"[ \t\f]*#[ \t\f]*@(?P<key>[A-Za-z_][A-Za-z0-9_-]*)(?P<rest>.*)")
_TOKEN = re.compile(r"\S+")
_DIGITS = re.compile(r"[0-9]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URI_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
MOUNT_SCHEMES = ("file", "s3", "gs", "gcs", "az", "azure")
CACHE_POLICIES = ("fingerprint", "forever", "session", "ttl")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def split_lines(text: str) -> list[str]:
    """Lines as editors and `ast` count them (`\\r\\n`, `\\r` and `\\n` all end a line)."""
    return _NEWLINE.split(text)


def leading_block_end(lines: list[str]) -> int:
    """0-based index of the first line that is neither blank nor a `#` comment."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return index
    return len(lines)


def annotation_body(text: str) -> str:
    """`text` without its leading annotation block (what sql/prompt/r cells execute)."""
    lines = split_lines(text)
    return "\n".join(lines[leading_block_end(lines) :])


def directive_tokens(directive: Directive, separators: str = "") -> list[tuple[str, Span]]:
    """Whitespace-separated tokens of a directive value (also split on `separators`)."""
    pattern = re.compile(r"[^\s" + re.escape(separators) + r"]+") if separators else _TOKEN
    span = directive.value_span
    return [
        (m.group(), Span.on_line(span.line, span.col + m.start(), span.col + m.end()))
        for m in pattern.finditer(directive.value)
    ]


def _read_directive(line: str, number: int) -> tuple[Directive, bool] | None:
    """The directive on `line`, and whether it is well formed (a space after the key)."""
    match = _DIRECTIVE.fullmatch(line)
    if match is None:
        return None
    key, rest = match.group("key"), match.group("rest")
    key_span = Span.on_line(number, match.start("key"), match.end("key"))
    if rest and not rest[0].isspace():
        # `# @timeout:30`: report the whole token as the key so the message shows it.
        token = _TOKEN.match(line, match.start("key"))
        end = token.end() if token else match.end("key")
        bad_span = Span.on_line(number, match.start("key"), end)
        return Directive(line[match.start("key") : end], "", number, bad_span, bad_span), False
    value = rest.strip()
    if value:
        col = match.end("key") + (len(rest) - len(rest.lstrip()))
        value_span = Span.on_line(number, col, col + len(value))
    else:
        value_span = Span.on_line(number, key_span.end_col, key_span.end_col)
    return Directive(key.lower(), value, number, key_span, value_span), True


def _suggest(word: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    matches = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _unknown_key(state: _ParseState, d: Directive, well_formed: bool) -> None:
    suggestion = _suggest(re.split(r"[^A-Za-z0-9_-]", d.key)[0].replace("-", "_"), KNOWN_KEYS)
    hint = f"did you mean '@{suggestion}'?" if suggestion else "see the annotation reference"
    if well_formed:
        message = f"unknown annotation '@{d.key}': {hint}"
    else:
        message = f"malformed annotation '@{d.key}': write '# @key value' ({hint})"
    state.report("annotation_unknown", message, d.key_span, suggestion)


@lru_cache(maxsize=4096)
def parse_annotations(
    text: str, *, cell_id: str | None = None, file: str | None = None
) -> Annotations:
    """Parse the leading block of `text`; never raises."""
    lines = split_lines(text)
    end = leading_block_end(lines)
    if not any("@" in lines[index] for index in range(end)):
        return _without_directives(end + 1)  # most cells: nothing to parse or report
    state = _ParseState(cell_id, file)
    directives: list[Directive] = []
    for index in range(end):
        read = _read_directive(lines[index], index + 1)
        if read is None:
            continue
        directive, well_formed = read
        handler = _HANDLERS.get(directive.key) if well_formed else None
        if handler is None:
            _unknown_key(state, directive, well_formed)
            continue
        directives.append(directive)
        handler(state, directive)
    return state.build(tuple(directives), end + 1)


@lru_cache(maxsize=256)
def _without_directives(body_start_line: int) -> Annotations:
    """The annotations of a leading block without any `@` (immutable, so shared)."""
    return _ParseState(None, None).build((), body_start_line)


# --- one handler per key: each validates its value and stores it on the state ----------------


def _on_name(state: _ParseState, d: Directive) -> None:
    state.fields["name"] = d.value or None


def _on_worker(state: _ParseState, d: Directive) -> None:
    state.fields["worker"] = d.value or None


def _on_timeout(state: _ParseState, d: Directive) -> None:
    seconds = parse_timeout_text(d.value)
    state.fields["timeout"] = seconds
    if seconds is None:
        state.report(
            "timeout_not_numeric",
            f"@timeout '{d.value}' is not {TIMEOUT_RULE} (ASCII digits); write e.g. '@timeout 300'",
            d.value_span,
        )


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _on_env(state: _ParseState, d: Directive) -> None:
    name, sep, value = d.value.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not _ENV_NAME.fullmatch(name):
        problem = "has no '='" if not sep else f"has an invalid variable name '{name}'"
        state.report(
            "env_malformed",
            f"@env '{d.value}' {problem}; write '@env NAME=VALUE' with NAME like MY_VAR",
            d.value_span,
        )
        return
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]  # quotes let a value keep leading or trailing spaces
    state.env.append((name, value))


def _on_mount(state: _ParseState, d: Directive) -> None:
    tokens = directive_tokens(d)
    if len(tokens) < 2 or not _IDENTIFIER.fullmatch(tokens[0][0]):
        state.report(
            "mount_uri_unsupported",
            f"@mount '{d.value}' is malformed; "
            "write '@mount NAME URI [ro|rw]' with NAME a Python identifier",
            d.value_span,
        )
        return
    (name, _), (uri, uri_span) = tokens[0], tokens[1]
    scheme = _URI_SCHEME.match(uri)
    if scheme is None or scheme.group(1).lower() not in MOUNT_SCHEMES:
        state.report(
            "mount_uri_unsupported",
            f"@mount URI '{uri}' is not supported; use file://, s3://, gs://, gcs://, az:// or azure://",
            uri_span,
        )
    mode = "ro"
    if len(tokens) >= 3:
        given, mode_span = tokens[2]
        if given.lower() in ("ro", "rw") and len(tokens) == 3:
            mode = given.lower()
        else:
            extra = " ".join(t for t, _ in tokens[2:])
            state.report(
                "mount_mode_invalid",
                f"@mount mode '{extra}' is invalid; use 'ro' (read-only, default) or 'rw'",
                Span.on_line(d.line, mode_span.col, d.value_span.end_col),
            )
    state.mounts.append(MountSpec(name, uri, mode, d.value_span))


def _on_nocache(state: _ParseState, d: Directive) -> None:
    # Anything but an explicit "off" keeps the cell uncached: never serve a hit by mistake.
    state.fields["nocache"] = d.value.lower() not in _FALSE


def _on_after(state: _ParseState, d: Directive) -> None:
    tokens = directive_tokens(d, ",")
    if not tokens:
        state.report(
            "after_unknown", "@after needs at least one cell id; write '@after ID'", d.value_span
        )
    for token, _ in tokens:
        if token not in state.after:
            state.after.append(token)


def _on_loop(state: _ParseState, d: Directive) -> None:
    options: dict[str, tuple[str, Span]] = {}
    for token, span in directive_tokens(d):
        key, _, value = token.partition("=")
        options[key.lower()] = (value, span)
    max_iter = _positive_int(options.get("max_iter", ("", d.value_span))[0])
    if max_iter is None:
        state.report(
            "loop_missing_max_iter",
            "@loop needs max_iter=N with N a positive integer; "
            "write e.g. '@loop max_iter=10 carry=state'",
            options.get("max_iter", ("", d.value_span))[1],
        )
    carry_value, carry_span = options.get("carry", ("", d.value_span))
    carry = carry_value if _IDENTIFIER.fullmatch(carry_value) else None
    if carry is None:
        state.report(
            "loop_missing_carry",
            "@loop needs carry=VAR naming the variable threaded between iterations",
            carry_span,
        )
    start_from = None
    if "start_from" in options:
        start_from = _start_from(state, *options["start_from"])
    if start_from is not None and start_from[0] not in state.after:
        # The source's stored iteration seeds this loop: it must run first, and its key
        # (which decides that iteration) enters this cell's key, exactly as `@after`'s does.
        state.after.append(start_from[0])
    state.fields["loop"] = LoopSpec(max_iter, carry, start_from)


def _non_negative_int(value: str) -> int | None:
    # Not str.isdigit: it accepts "²", which int() rejects.
    return int(value) if _DIGITS.fullmatch(value) else None


def _positive_int(value: str) -> int | None:
    number = _non_negative_int(value)
    return number if number else None


def _start_from(state: _ParseState, value: str, span: Span) -> tuple[str, int] | None:
    cell, sep, iteration = value.rpartition("@iter=")
    if sep and cell and _DIGITS.fullmatch(iteration):
        return cell, int(iteration)
    state.report(
        "loop_start_from_unknown",
        f"start_from '{value}' is malformed; write start_from=CELL_ID@iter=K",
        span,
    )
    return None


def _on_loop_until(state: _ParseState, d: Directive) -> None:
    try:
        ast.parse(d.value, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        state.fields["loop_until"] = None
        state.report(
            "loop_until_syntax_error",
            f"@loop_until '{d.value}' is not a Python expression; "
            "write e.g. '@loop_until delta < 1e-6'",
            d.value_span,
        )
        return
    state.fields["loop_until"] = d.value


def _on_variant(state: _ParseState, d: Directive) -> None:
    tokens = d.value.split()
    if len(tokens) != 2:
        state.fields["variant"] = None
        state.report(
            "variant_malformed",
            f"@variant '{d.value}' needs exactly a group and a name; write '@variant GROUP NAME'",
            d.value_span,
        )
        return
    state.fields["variant"] = (tokens[0], tokens[1])


def _on_per_variant(state: _ParseState, d: Directive) -> None:
    tokens = d.value.split()
    if len(tokens) > 1:
        state.report(
            "variant_malformed",
            f"@per_variant '{d.value}' takes at most one group; write '@per_variant [GROUP]'",
            d.value_span,
        )
    state.fields["per_variant"] = tokens[0] if tokens else PER_VARIANT_ANY_GROUP


def _on_sql(state: _ParseState, d: Directive) -> None:
    connection = None
    for token, span in directive_tokens(d):
        key, sep, value = token.partition("=")
        if not sep:
            connection = token  # `@sql NAME` shorthand for `connection=NAME`
        elif key.lower() == "connection" and value:
            connection = value
        elif key.lower() == "write" and value.lower() in _TRUE + _FALSE:
            state.fields["sql_write"] = value.lower() in _TRUE
        elif key.lower() == "write":
            state.report(
                "sql_connection_missing",
                f"@sql write='{value}' is not a boolean; write write=true or write=false",
                span,
            )
    if connection is None:
        state.report(
            "sql_connection_missing",
            "@sql needs a connection; write '@sql connection=NAME' with a [connections.NAME] entry",
            d.value_span,
        )
    state.fields["sql_connection"] = connection


def _on_cache(state: _ParseState, d: Directive) -> None:
    policy, sep, ttl = d.value.lower().partition("=")
    policy = policy.strip()
    if policy not in CACHE_POLICIES or (sep and policy != "ttl"):
        suggestion = _suggest(policy, CACHE_POLICIES)
        hint = f"did you mean '{suggestion}'? " if suggestion else ""
        state.report(
            "cache_policy_unknown",
            f"@cache '{d.value}' is not a cache policy; "
            f"{hint}use fingerprint, forever, session or ttl=SECONDS",
            d.value_span,
            suggestion,
        )
        return
    seconds = _number(ttl.strip()) if policy == "ttl" else None
    if policy == "ttl" and (seconds is None or seconds <= 0):
        state.report(
            "cache_ttl_invalid",
            f"@cache '{d.value}' needs a positive number of seconds; write e.g. '@cache ttl=3600'",
            d.value_span,
        )
        return
    state.fields["cache_policy"], state.fields["cache_ttl"] = policy, seconds


def _on_output_schema(state: _ParseState, d: Directive) -> None:
    try:
        schema = json.loads(d.value)
    except (ValueError, RecursionError):
        schema = None
    if not isinstance(schema, dict):
        state.report(
            "prompt_output_schema_invalid",
            "@output_schema must be a JSON object on one line; write e.g. "
            '\'@output_schema {"type": "object"}\'',
            d.value_span,
        )
        return
    state.prompt["output_schema"] = schema


def _on_output(state: _ParseState, d: Directive) -> None:
    if d.value.lower() not in ("text", "json"):
        state.report(
            "prompt_output_schema_invalid",
            f"@output '{d.value}' is not an output format; write '@output text' or '@output json'",
            d.value_span,
        )
        return
    state.prompt["output"] = d.value.lower()


def _prompt_setting(key: str, convert: Callable[[str], object | None]) -> _Handler:
    # No SPEC 11 code covers a bad temperature/max_tokens/validate_retries value: it is
    # dropped (the default applies) rather than reported under an unrelated code.
    def handler(state: _ParseState, d: Directive) -> None:
        value = convert(d.value)
        if value is not None:
            state.prompt[key] = value

    return handler


def _on_system(state: _ParseState, d: Directive) -> None:
    state.system.append(d.value)


_Handler = Callable[[_ParseState, Directive], None]
_HANDLERS: dict[str, _Handler] = {
    "name": _on_name,
    "worker": _on_worker,
    "timeout": _on_timeout,
    "env": _on_env,
    "mount": _on_mount,
    "nocache": _on_nocache,
    "after": _on_after,
    "loop": _on_loop,
    "loop_until": _on_loop_until,
    "variant": _on_variant,
    "per_variant": _on_per_variant,
    "sql": _on_sql,
    "cache": _on_cache,
    "model": _prompt_setting("model", lambda v: v or None),
    "temperature": _prompt_setting("temperature", _number),
    "max_tokens": _prompt_setting("max_tokens", _positive_int),
    "system": _on_system,
    "output": _on_output,
    "output_schema": _on_output_schema,
    "validate_retries": _prompt_setting("validate_retries", _non_negative_int),
}
assert set(_HANDLERS) == set(KNOWN_KEYS)
