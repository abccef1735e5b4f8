"""Keeping tool results small enough for a model's context: strings cut with a marker, lists
cut with a count of what was left out, and a whole result shrunk until it fits."""

from __future__ import annotations

import json
from typing import Any

MAX_TEXT = 8000
"""The summary text of one result, in characters."""
MAX_DATA = 16000
"""The structured data of one result, in characters of JSON."""
MAX_STRING = 2000
MAX_ITEMS = 100


def clip(text: str, limit: int = MAX_STRING) -> str:
    """`text` cut to about `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n... [truncated: {len(text) - limit} more characters]"


def bound_json(value: Any, max_string: int = MAX_STRING, max_items: int = MAX_ITEMS) -> Any:
    """A copy of a JSON-able `value` with long strings and lists cut."""
    if isinstance(value, str):
        return clip(value, max_string)
    if isinstance(value, dict):
        return {str(k): bound_json(v, max_string, max_items) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [bound_json(v, max_string, max_items) for v in value[:max_items]]
        if len(value) > max_items:
            items.append(f"... [truncated: {len(value) - max_items} more items]")
        return items
    return value


def fit_data(data: dict[str, Any], limit: int = MAX_DATA) -> dict[str, Any]:
    """`data` bounded, tightened step by step until its JSON is within `limit`."""
    max_string, max_items = MAX_STRING, MAX_ITEMS
    while True:
        bounded: dict[str, Any] = bound_json(data, max_string, max_items)
        size = len(json.dumps(bounded, default=str))
        if size <= limit:
            return bounded
        if max_string <= 40 and max_items <= 3:
            return {"truncated": True, "note": f"the result ({size} characters) was too large"}
        max_string, max_items = max(40, max_string // 2), max(3, max_items // 2)
