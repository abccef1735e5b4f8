"""The CLI's JSON output (json_indent.py) is exactly `json.dumps(value, indent=2)`."""

from __future__ import annotations

import json
import random
from enum import StrEnum
from typing import Any

import pytest

from strata_engine.json_indent import dumps_indented


class Color(StrEnum):
    RED = "red"


SAMPLES: list[Any] = [
    None,
    True,
    0,
    -7,
    10**30,
    1.5,
    -0.0,
    1e-300,
    float("nan"),
    float("inf"),
    float("-inf"),
    "",
    'quote " backslash \\ tab \t newline \n nul \0 é ✓ 😀 \u2028',
    [],
    {},
    (),
    [[]],
    {"a": {}},
    {"a": [], "b": [{}], "c": [1, [2, [3, {"d": None}]]]},
    ("tuple", 1, [None]),
    {"id": "c1", "state": "ready", "reasons": [{"code": "x", "detail": "y"}], "key": None},
    {1: "int key", False: "bool key", None: "none key", 2.5: "float key"},
    {"enum": Color.RED, Color.RED: 1},
    [True, False, None, 1, 1.0, "1"],
]


@pytest.mark.parametrize("value", SAMPLES, ids=range(len(SAMPLES)))
def test_exactly_what_json_dumps_with_indent_2_writes(value: Any) -> None:
    assert dumps_indented(value) == json.dumps(value, indent=2)


def _random_value(rng: random.Random, depth: int) -> Any:
    choice = rng.randrange(8 if depth < 5 else 4)
    if choice == 0:
        return rng.choice([None, True, False])
    if choice == 1:
        return rng.randint(-(10**12), 10**12)
    if choice == 2:
        return rng.uniform(-1e6, 1e6)
    if choice == 3:
        return "".join(chr(rng.randrange(0, 0x2FFF)) for _ in range(rng.randrange(6)))
    if choice in (4, 5):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{rng.randrange(50)}": _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def test_random_nested_values_agree() -> None:
    rng = random.Random(11)
    for _ in range(500):
        value = _random_value(rng, 0)
        assert dumps_indented(value) == json.dumps(value, indent=2)


def test_what_json_refuses_is_refused_alike() -> None:
    for bad in ({"a": object()}, [{1, 2}], {("tuple", "key"): 1}):
        with pytest.raises(TypeError):
            json.dumps(bad, indent=2)
        with pytest.raises(TypeError):
            dumps_indented(bad)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError):
        dumps_indented(loop)
