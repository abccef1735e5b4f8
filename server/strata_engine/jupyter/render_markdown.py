"""A notebook as one Markdown file: markdown cells as written, code in fenced blocks, cached
outputs below each cell. Images become files in `<name>_files/` beside the .md (a data URI
in Markdown is unreadable and many viewers refuse it); an HTML table becomes a Markdown table.
"""

from __future__ import annotations

import base64
import binascii
from html.parser import HTMLParser

from strata_engine.jupyter.exporter import ExportedCell
from strata_engine.kinds import kind_for

_IMAGES = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif"}
_FENCE_LANGUAGE = {"python": "python", "sql": "sql", "r": "r", "prompt": "text"}


def render_markdown(
    name: str, cells: list[ExportedCell], assets: str
) -> tuple[str, dict[str, bytes]]:
    """The Markdown text and the files it links (relative path -> bytes)."""
    files: dict[str, bytes] = {}
    parts = [f"# {name}"]
    for cell in cells:
        if cell.language == "markdown":
            parts.append(cell.source.strip())
            continue
        parts.append(_code_cell(cell, assets, files))
    return "\n\n".join(parts) + "\n", files


def _code_cell(cell: ExportedCell, assets: str, files: dict[str, bytes]) -> str:
    state = "cached output" if cell.cached else (cell.why or "not run")
    if cell.cached and cell.error:
        state = "cached error"
    label = kind_for(cell.language).label if cell.language else cell.language
    out = [
        f"<!-- cell {cell.id} -->",
        f"**{_inline(cell.label)}** · {label} · *{_inline(state)}*",
        _fenced(cell.source, _FENCE_LANGUAGE.get(cell.language, "")),
    ]
    if cell.stdout:
        out.append(_fenced(cell.stdout, "text"))
    if cell.stderr:
        out.append(_fenced(cell.stderr, "text"))
    for number, bundle in enumerate(cell.displays, start=1):
        out.append(_display(bundle, f"{assets}/{cell.id}-{number}", files))
    if cell.error:
        out.append(_fenced(cell.traceback or cell.error, "text"))
    return "\n\n".join(out)


def _display(bundle: dict[str, str], stem: str, files: dict[str, bytes]) -> str:
    for mime, suffix in _IMAGES.items():
        if mime in bundle:
            try:
                files[stem + suffix] = base64.b64decode(bundle[mime], validate=True)
            except (binascii.Error, ValueError):
                break  # not decodable: fall back to the text form
            return f"![{_inline(bundle.get('text/plain', 'image'))}]({stem}{suffix})"
    if "image/svg+xml" in bundle:
        files[stem + ".svg"] = bundle["image/svg+xml"].encode("utf-8")
        return f"![image]({stem}.svg)"
    if "text/markdown" in bundle:
        return bundle["text/markdown"]
    if "text/html" in bundle:
        table = html_table_to_markdown(bundle["text/html"])
        if table is not None:
            return table
    return _fenced(bundle.get("text/plain", ""), "text")


def _fenced(text: str, language: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _inline(text: str) -> str:
    """One line of text safe inside emphasis or an image's alt text."""
    line = " ".join(text.split())
    return line.replace("\\", "\\\\").replace("*", "\\*").replace("[", "\\[").replace("]", "\\]")


def html_table_to_markdown(markup: str) -> str | None:
    """The first <table> of `markup` as a Markdown table (its first row is the header), plus
    any text after the table (a preview's "first 50 rows of ..." note); None without one."""
    parser = _TableParser()
    parser.feed(markup)
    parser.close()
    rows = [row for row in parser.rows if row]
    if not rows:
        return None
    width = max(len(row) for row in rows)
    padded = [[_cell_text(c) for c in row] + [""] * (width - len(row)) for row in rows]
    lines = [_row(padded[0]), _row(["---"] * width)] + [_row(row) for row in padded[1:]]
    trailer = " ".join(parser.after.split())
    return "\n".join(lines) + (f"\n\n{trailer}" if trailer else "")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell_text(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


class _TableParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.after = ""
        self._depth = 0
        self._done = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        if tag == "table":
            self._depth += 1
        elif self._depth == 1 and tag == "tr":
            self.rows.append([])
        elif self._depth == 1 and tag in ("td", "th") and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._done:
            return
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._depth -= 1
            self._done = self._depth == 0

    def handle_data(self, data: str) -> None:
        if self._done:
            self.after += data
        elif self._cell is not None:
            self._cell.append(data)
