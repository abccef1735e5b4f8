"""Property-based fuzzing of notebook.toml loading (issue [11]): random TOML-ish text, valid
TOML of the wrong types and shapes, and random mutations of the samples' real manifests.

On every example: `load_notebook` raises only NotebookError (a parse error with the file and
its line), every diagnostic names its file (and line, for notebook.toml), `strata validate`
and `strata status` exit with a message and never a traceback, and a failed parse changes
nothing on disk (the whole directory is hashed before and after)."""

from __future__ import annotations

import datetime
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w
from fuzz_support import check_cli, check_load
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

SAMPLES = Path(__file__).parents[2] / "samples"
# Samples whose static analysis needs nothing outside this machine's Python (R cells start
# an Rscript helper; remote/dask workers are reached by status).
FUZZED_SAMPLES = ("quickstart", "expensive", "hill_climb", "model_variants", "prompt_triage")
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CLI_SETTINGS = settings(SETTINGS, max_examples=50)
SHAPE_SETTINGS = settings(SETTINGS, max_examples=100)

TOP_KEYS = ("notebook_id", "name", "cells", "workers", "mounts", "connections", "cache")
TOP_KEYS += ("env", "ai", "variant_group", "environment", "timeout", "worker", "python")
CELL_KEYS = ("id", "file", "language", "order", "worker", "timeout", "env", "variant")
SECTION_KEYS = ("name", "backend", "url", "store", "max_size", "uri", "path", "driver")
SECTION_KEYS += ("options", "mode", "members", "active", "default", "base_url", "model")


@contextmanager
def notebook_dir(manifest: str | bytes, cells: dict[str, str] | None = None) -> Iterator[Path]:
    """A fresh notebook directory (hypothesis cannot share pytest's function-scoped tmp_path)."""
    with tempfile.TemporaryDirectory(prefix="strata-fuzz-") as root:
        directory = Path(root) / "nb"
        (directory / "cells").mkdir(parents=True)
        for name, text in (cells or {"a.py": "x = 1\n"}).items():
            (directory / "cells" / name).write_text(text)
        data = manifest.encode("utf-8", "surrogatepass") if isinstance(manifest, str) else manifest
        (directory / "notebook.toml").write_bytes(data)
        yield directory


# -- strategies -------------------------------------------------------------------------------
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["a.py", "../a.py", "/etc/passwd", "", "python", "sql", "markdown", "a"]),
    st.datetimes(max_value=datetime.datetime(9999, 1, 1)),
    st.dates(),
)
toml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(SECTION_KEYS + CELL_KEYS), inner, max_size=3),
    ),
    max_leaves=8,
)
cell_entries = st.dictionaries(st.sampled_from(CELL_KEYS), toml_values, max_size=6)
manifest_documents = st.dictionaries(
    st.sampled_from(TOP_KEYS),
    st.one_of(toml_values, st.lists(cell_entries, max_size=4)),
    max_size=6,
)
toml_alphabet = st.sampled_from([*"[]{}=\"'#.,\n \t-+:_aeioxyz0123456789\\", "\u00e9", "\0"])
tomlish_text = st.one_of(
    st.text(max_size=200),
    st.text(toml_alphabet, max_size=200),
    st.lists(
        st.sampled_from(
            [
                "[[cells]]",
                "[cells]",
                'id = "a"',
                'file = "a.py"',
                "order = 1",
                'language = "sql"',
                "cells = 3",
                "[cache]",
                'store = "s3://x"',
                "[[workers]]",
                'name = "w"',
                "order = nan",
                "order = 1e400",
                'id = """',
                "x = [",
                "[a.b.c]",
                "timeout = -1",
                "env = {A = 1}",
            ]
        ),
        max_size=14,
    ).map("\n".join),
    # tomllib recurses once per level: deep nesting must be refused, not a RecursionError
    st.tuples(st.integers(1, 3000), st.sampled_from(["[", "{a="]), st.integers(0, 3)).map(
        lambda t: "\n" * t[2] + "x = " + t[1] * t[0]
    ),
)


def mutate(text: str, data: st.DataObject) -> str:
    """A few random edits of a real manifest: delete, insert, duplicate, swap or truncate."""
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        kind = data.draw(st.sampled_from(["delete", "insert", "dup", "swap", "truncate", "char"]))
        at = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        if kind == "delete" and lines:
            del lines[at]
        elif kind == "insert":
            lines.insert(at, data.draw(tomlish_text))
        elif kind == "dup" and lines:
            lines.insert(at, lines[at])
        elif kind == "swap" and lines:
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "truncate":
            joined = "\n".join(lines)
            lines = joined[: data.draw(st.integers(0, len(joined)))].split("\n")
        elif lines:
            line = lines[at]
            pos = data.draw(st.integers(0, len(line)))
            lines[at] = line[:pos] + data.draw(st.text(toml_alphabet, max_size=3)) + line[pos:]
    return "\n".join(lines)


def _toml(document: dict[str, Any]) -> str:
    try:
        return tomli_w.dumps(document)
    except (TypeError, ValueError):  # NaN keys and the like tomli_w will not write
        return ""


# -- properties ---------------------------------------------------------------------------------
@SETTINGS
@given(text=tomlish_text)
@example(text="\n\nx = " + "[" * 3000)  # found: too deep for tomllib had no line
def test_random_tomlish_text_loads_or_is_refused_with_file_and_line(text: str) -> None:
    with notebook_dir(text) as directory:
        check_load(directory)


@SETTINGS
@given(raw=st.binary(max_size=120))
def test_random_bytes_are_refused_with_file_and_line(raw: bytes) -> None:
    with notebook_dir(raw) as directory:
        check_load(directory)


@SHAPE_SETTINGS
@given(document=manifest_documents)
@example(document={"cells": {"name": {}}})  # found: `[cells.name]` had no line
def test_valid_toml_of_wrong_types_and_shapes(document: dict[str, Any]) -> None:
    with notebook_dir(_toml(document)) as directory:
        check_load(directory)


@SETTINGS
@given(sample=st.sampled_from(FUZZED_SAMPLES), data=st.data())
def test_mutated_sample_manifests(sample: str, data: st.DataObject) -> None:
    text = (SAMPLES / sample / "notebook.toml").read_text()
    with sample_copy(sample, mutate(text, data)) as directory:
        check_load(directory)


@CLI_SETTINGS
@given(text=st.one_of(tomlish_text, manifest_documents.map(_toml)))
@example(text="cache = false")  # found: the store's refusal named neither file nor line
@example(text="[cache]\nstore = 3")
def test_cli_validate_and_status_answer_with_a_message(text: str) -> None:
    with notebook_dir(text) as directory:
        check_cli("validate", directory)
        check_cli("status", directory)


@CLI_SETTINGS
@given(sample=st.sampled_from(FUZZED_SAMPLES), data=st.data())
def test_cli_on_mutated_samples(sample: str, data: st.DataObject) -> None:
    text = (SAMPLES / sample / "notebook.toml").read_text()
    with sample_copy(sample, mutate(text, data)) as directory:
        check_cli("validate", directory)
        check_cli("status", directory)


@contextmanager
def sample_copy(sample: str, manifest: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="strata-fuzz-") as root:
        directory = Path(root) / sample
        shutil.copytree(SAMPLES / sample, directory, ignore=shutil.ignore_patterns(".strata"))
        (directory / "notebook.toml").write_bytes(manifest.encode("utf-8", "surrogatepass"))
        yield directory
