"""One self-contained HTML page of a notebook: sources, rendered markdown, cached outputs.

Images are inline data URIs, so the file can be mailed or attached alone. HTML outputs (a
DataFrame's table) are embedded as the cell produced them, as Jupyter's nbconvert does; the
page's styles keep them readable in light and dark viewers.
"""

from __future__ import annotations

import html

from strata_engine.jupyter.exporter import ExportedCell

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
  color: #1f2328; line-height: 1.5; }
.cell { margin: 1.2rem 0; }
.cell-head { font-size: .8rem; color: #59636e; display: flex; gap: .8rem; }
.state-ready { color: #1a7f37; } .state-stale { color: #9a6700; }
.state-never_run { color: #59636e; } .state-error { color: #cf222e; }
pre { background: #f6f8fa; padding: .6rem .8rem; overflow-x: auto; border-radius: 6px;
  margin: .3rem 0; }
pre.source { border-left: 3px solid #0969da; }
pre.stderr, pre.error { background: #ffebe9; }
.output { margin: .3rem 0 .3rem 1rem; overflow-x: auto; }
.output table { border-collapse: collapse; font-size: .85rem; }
.output th, .output td { border: 1px solid #d1d9e0; padding: .2rem .5rem; }
.output img { max-width: 100%; }
.note { font-style: italic; color: #59636e; }
"""

_IMAGES = ("image/png", "image/jpeg", "image/gif")


def render_html(name: str, cells: list[ExportedCell]) -> str:
    title = html.escape(name)
    body = "\n".join(_cell(cell) for cell in cells)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head>\n"
        f"<body><h1>{title}</h1>\n{body}\n</body></html>\n"
    )


def _cell(cell: ExportedCell) -> str:
    if cell.language == "markdown":
        rendered = markdown(cell.source)
        return f'<div class="cell markdown" id="{html.escape(cell.id)}">{rendered}</div>'
    state = "error" if cell.cached and cell.error else cell.state
    head = (
        f'<div class="cell-head"><span>{html.escape(cell.label)}</span>'
        f"<span>{html.escape(cell.language)}</span>"
        f'<span class="state-{html.escape(state)}">{html.escape(_state_word(cell))}</span></div>'
    )
    parts = [head, f'<pre class="source"><code>{html.escape(cell.source)}</code></pre>']
    if not cell.cached:
        parts.append(f'<p class="note">{html.escape(cell.why or "not run")}</p>')
    if cell.stdout:
        parts.append(f'<pre class="stdout">{html.escape(cell.stdout)}</pre>')
    if cell.stderr:
        parts.append(f'<pre class="stderr">{html.escape(cell.stderr)}</pre>')
    parts += [f'<div class="output">{_display(bundle)}</div>' for bundle in cell.displays]
    if cell.error:
        text = cell.traceback or cell.error
        parts.append(f'<pre class="error">{html.escape(text)}</pre>')
    return f'<div class="cell code" id="{html.escape(cell.id)}">{"".join(parts)}</div>'


def _state_word(cell: ExportedCell) -> str:
    if not cell.cached:
        return cell.state.replace("_", " ")
    return "error (cached)" if cell.error else "ready (cached output)"


def _display(bundle: dict[str, str]) -> str:
    for mime in _IMAGES:
        if mime in bundle:
            alt = html.escape(bundle.get("text/plain", "image"), quote=True)
            return f'<img alt="{alt}" src="data:{mime};base64,{bundle[mime]}">'
    if "image/svg+xml" in bundle:
        return bundle["image/svg+xml"]
    if "text/html" in bundle:
        return bundle["text/html"]
    if "text/markdown" in bundle:
        return markdown(bundle["text/markdown"])
    text = bundle.get("text/latex") or bundle.get("text/plain", "")
    return f"<pre>{html.escape(text)}</pre>"


def markdown(text: str) -> str:
    """CommonMark with tables and strikethrough (markdown-it-py), raw HTML allowed as in
    Jupyter's own markdown cells."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    rendered: str = parser.render(text)
    return rendered
