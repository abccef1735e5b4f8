"""`json.dumps(value, indent=2)`, character for character, without the pure-Python encoder.

CPython's C encoder handles only `indent=None`; with an indent, `json` walks the value
through nested generators, ~0.3 s for `strata status` of a 10,000-cell notebook. The
CLI's documented output is the indented one, so this writes exactly that text: strings
through the C string encoder, the layout by one recursive function. Anything outside
plain JSON data (non-string keys, other types) goes to `json.dumps` itself.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_INFINITY = float("inf")


class _Unusual(Exception):
    """A value `json` encodes by rules this writer does not repeat."""


def dumps_indented(value: Any) -> str:
    """Exactly `json.dumps(value, indent=2)`."""
    out: list[str] = []
    try:
        _emit(value, out, "\n")
    except (_Unusual, RecursionError):
        return json.dumps(value, indent=2)
    return "".join(out)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        if value != value:
            return "NaN"
        if value == _INFINITY:
            return "Infinity"
        if value == -_INFINITY:
            return "-Infinity"
        return float.__repr__(value)
    raise _Unusual


def _emit(value: Any, out: list[str], newline: str) -> None:
    kind = type(value)
    if kind is str:
        out.append(encode_basestring_ascii(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual
            out.append(separator)
            out.append(encode_basestring_ascii(key))
            out.append(": ")
            if type(item) is str:  # most values: spare the call
                out.append(encode_basestring_ascii(item))
            else:
                _emit(item, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _emit(item, out, inner)
            separator = "," + inner
        out.append(newline + "]")
    else:
        out.append(_scalar(value))
