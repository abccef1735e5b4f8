"""Reading notebook.toml itself: find it, read it safely, parse it, and refuse a manifest
whose shape the loader cannot use, with the file, line and column and how to fix it.

Nothing here writes: a manifest that does not parse is never overwritten (SPEC 2).
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from strata_engine.model import manifest_cache
from strata_engine.model.errors import NotebookError as NotebookError
from strata_engine.model.safe_read import MAX_MANIFEST_BYTES, FileRefused, read_regular_file

MANIFEST = "notebook.toml"
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_AT_END = "(at end of document)"
_BOM = "\ufeff"
_TOML_KINDS = {
    **{"dict": "a table", "str": "a string", "int": "an integer", "float": "a number"},
    **{"bool": "a boolean", "datetime": "a date-time", "date": "a date", "time": "a time"},
}


class NotebookParseError(NotebookError):
    """notebook.toml cannot be used: a syntax error, or valid TOML of the wrong shape
    (`fix` then says what the shape must be)."""

    def __init__(
        self,
        path: Path,
        line: int | None,
        column: int | None,
        detail: str,
        *,
        fix: str | None = None,
    ) -> None:
        self.path, self.line, self.column, self.detail = path, line, column, detail
        self.fix = fix or "fix the TOML syntax at that position"
        where = str(path)
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        if fix is None:
            message = f"{where}: cannot parse notebook.toml: {detail}. Fix the TOML syntax at "
            message += "that position; the file was left untouched."
        else:
            message = f"{where}: {detail}; {fix}. The file was left untouched."
        super().__init__(message)


def find_manifest(path: Path) -> Path:
    """Accept a notebook directory or its notebook.toml; raise NotebookError otherwise."""
    candidate = path / MANIFEST if path.is_dir() else path
    if candidate.name == MANIFEST and candidate.exists() and not candidate.is_file():
        raise NotebookError(
            f"{candidate}: is not a regular file (a FIFO, device or directory); replace it "
            "with the notebook's TOML manifest"
        )
    if candidate.name != MANIFEST or not candidate.is_file():
        raise NotebookError(
            f"{path}: not a Strata notebook (no {MANIFEST} found); pass the notebook directory "
            "or create one with `strata new NAME`"
        )
    return candidate


def toml_error_position(
    exc: tomllib.TOMLDecodeError, text: str | None = None
) -> tuple[int | None, int | None, str]:
    """(line, column, message without the position) of a TOML syntax error; 1-based.
    tomllib says "at end of document" instead of a position (a string or array left open
    by a truncated file): with the `text`, that becomes the last line and column."""
    found = _TOML_POSITION.search(str(exc))
    detail = _TOML_POSITION.sub("", str(exc)).strip()
    if found:
        return int(found[1]), int(found[2]), detail
    if _AT_END in detail:
        detail = detail.replace(_AT_END, "").strip() + " at the end of the file (is it truncated?)"
        if text is not None:
            last_newline = text.rfind("\n")
            return text.count("\n") + 1, len(text) - last_newline, detail
    return None, None, detail


def read_manifest(manifest: Path, text: str | None = None) -> tuple[str, dict[str, Any]]:
    """The manifest's text and its parsed document (NotebookParseError when unusable).
    `text`, when given, is parsed instead of the file (an editor's unsaved notebook.toml)."""
    on_disk = text is None
    if text is None:
        text = _read_manifest_text(manifest)
    # A BOM (Notepad adds one) is not TOML, but it is not content either: read past it.
    # Only structural edits write the file, so accepting it never rewrites the manifest.
    text = text.removeprefix(_BOM)
    # The editor's unsaved text changes per keystroke: only the file's parse is recorded.
    recorded = manifest_cache.load(manifest.parent / ".strata", text) if on_disk else None
    if recorded is not None:
        check_manifest_shape(manifest, text, recorded)
        _remember(text, recorded)
        return text, recorded
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NotebookParseError(manifest, *toml_error_position(exc, text)) from exc
    except RecursionError as exc:  # tomllib recurses once per level of nesting
        raise NotebookParseError(
            manifest,
            *_deepest_nesting(text),
            "notebook.toml nests arrays or inline tables too deeply to be read",
            fix="flatten the nesting (Strata's own tables are at most three levels deep)",
        ) from exc
    check_manifest_shape(manifest, text, document)
    _remember(text, document)
    if on_disk:
        manifest_cache.save(manifest.parent / ".strata", text, document)
    return text, document


def _remember(text: str, document: dict[str, Any]) -> None:
    _checked[text] = document
    while len(_checked) > _CHECKED_MAX:
        del _checked[next(iter(_checked))]


_CHECKED_MAX = 4
_checked: dict[str, dict[str, Any]] = {}
"""Recently loaded texts and their parsed, shape-checked documents: the manifest checks
read the same text again right after loading, and a 10,000-cell manifest takes ~1 s to
parse. Nothing mutates a loaded document in place (saving deep-copies it)."""


def parsed_manifest(text: str) -> dict[str, Any] | None:
    """The document `read_manifest` parsed and shape-checked from exactly `text`, if recent."""
    return _checked.get(text)


def _read_manifest_text(manifest: Path) -> str:
    try:
        data = read_regular_file(manifest, MAX_MANIFEST_BYTES)
    except FileRefused as exc:
        fix = "check that this is the notebook's manifest" if exc.too_large else exc.fix
        raise NotebookError(f"{manifest} {exc.problem}; {fix}") from exc
    except OSError as exc:
        raise NotebookError(f"{manifest}: cannot be read ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        encoding = "UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "not valid UTF-8"
        raise NotebookParseError(
            manifest,
            line,
            column,
            f"notebook.toml is {encoding} (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            fix="re-save it as UTF-8",
        ) from exc


def check_manifest_shape(manifest: Path, text: str, document: dict[str, Any]) -> None:
    """Raise NotebookParseError for valid TOML that no notebook can be built from, with
    its line, rather than a TOML syntax error or a traceback further in."""
    cells = document.get("cells", [])
    if not isinstance(cells, list):
        kind = _TOML_KINDS.get(type(cells).__name__, "a single value")
        raise NotebookParseError(
            manifest,
            # `[cells]`, `[cells.x]`, `cells = ...`, `cells.x = ...`, quoted or not; line 1
            # when only an inline table spells it (the message still names `cells`).
            _line_of(text, r"""\[\s*(["']?)cells\1\s*[\].]|(["']?)cells\2\s*[=.]""") or 1,
            None,
            f"`cells` in notebook.toml is {kind}, but it must be an array of tables",
            fix='write each cell as a [[cells]] table with id = "..." and file = "..."',
        )
    for index, entry in enumerate(cells):
        problem = order_problem(entry.get("order") if isinstance(entry, dict) else None)
        if problem is not None:
            from strata_engine.model.manifest_spans import ManifestLocator

            span = ManifestLocator(text).value(("cells",), index, "order")
            raise NotebookParseError(
                manifest,
                span.line,
                span.col + 1,
                f"cells entry #{index + 1}: `order` is {problem}, which cannot sort cells",
                fix="write a plain number such as order = 3",
            )


def order_problem(order: object) -> str | None:
    """What makes an `order` unusable as a float sort key (NaN sorts nowhere), if anything."""
    if isinstance(order, float) and math.isnan(order):
        return "NaN"
    if isinstance(order, int) and not isinstance(order, bool):
        try:
            float(order)
        except OverflowError:
            return f"an integer of about {int(order.bit_length() * 0.30103) + 1} digits"
    return None


def _deepest_nesting(text: str) -> tuple[int, int]:
    """(line, column), 1-based, where brackets and braces first reach their deepest level
    (quotes skipped roughly: this only places the message of a file tomllib gave up on)."""
    depth = deepest = 0
    line = column = 1
    where = (1, 1)
    quote: str | None = None
    for char in text:
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, (line, column)
        elif char in "]}":
            depth -= 1
        line, column = (line + 1, 1) if char == "\n" else (line, column + 1)
    return where


def _line_of(text: str, pattern: str) -> int | None:
    """1-based line of the first line starting with `pattern`, if any."""
    found = re.search(r"^[ \t]*(?:" + pattern + ")", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else None


def parse_manifest(manifest: Path) -> dict[str, Any]:
    return read_manifest(manifest)[1]
