"""display(), Markdown and mime bundles, as seen from inside a cell's process.

Bundles go to a sink the harness installs (the result channel), in call order. Nothing here
imports pandas or matplotlib: objects are recognised by duck typing and by the modules the
cell itself has already imported.
"""

from __future__ import annotations

import base64
import importlib.abc
import importlib.machinery
import io
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

Bundle = dict[str, str]

PREVIEW_ROWS = 50
"""Rows shown of a DataFrame or Series larger than the preview."""
PREVIEW_COLUMNS = 30
MAX_TEXT = 200_000
"""Characters kept of one text representation: a huge repr must not flood the editor."""

_sink: Callable[[Bundle], None] | None = None

# Checked in this order; a richer bundle from _repr_mimebundle_ wins over these.
_REPR_METHODS: Sequence[tuple[str, str]] = (
    ("_repr_html_", "text/html"),
    ("_repr_markdown_", "text/markdown"),
    ("_repr_latex_", "text/latex"),
    ("_repr_svg_", "image/svg+xml"),
    ("_repr_png_", "image/png"),
    ("_repr_jpeg_", "image/jpeg"),
)
_BINARY = frozenset({"image/png", "image/jpeg"})


def set_sink(sink: Callable[[Bundle], None] | None) -> None:
    global _sink
    _sink = sink


def emit(bundle: Bundle) -> None:
    if _sink is not None:
        _sink(bundle)
    else:  # outside a cell (a script the cell runs, a test): behave like print
        print(bundle.get("text/plain", ""))


def display(*objs: object) -> None:
    """Show each object below the cell, in call order (available in every cell)."""
    for obj in objs:
        emit(mime_bundle(obj))


class Markdown:
    """Markdown text shown rendered (available in every cell)."""

    def __init__(self, data: str) -> None:
        self.data = data

    def _repr_markdown_(self) -> str:
        return self.data

    def __repr__(self) -> str:
        # The plain-text fallback (a terminal, `strata run`) is the Markdown source itself.
        return self.data


def mime_bundle(obj: object) -> Bundle:
    """text/plain always, plus every richer representation the object offers."""
    if _is_figure(obj):
        return figure_bundle(obj)
    bundle: Bundle = {"text/plain": ""}
    bundle.update(_from_mimebundle(obj))
    if _is_pandas(obj):
        bundle.update(_pandas_preview(obj))
    for method, mime in _REPR_METHODS:
        if mime not in bundle:
            value = _call_repr(obj, method)
            if value is not None:
                bundle[mime] = value
    if not bundle["text/plain"]:
        bundle["text/plain"] = _plain(obj)
    return bundle


def _call_repr(obj: object, method: str) -> str | None:
    function = getattr(obj, method, None)
    if not callable(function) or isinstance(obj, type):
        return None  # a class has the method unbound: calling it would need an instance
    try:
        value = function()
    except Exception:
        return None  # one broken representation must not fail the cell; text/plain remains
    if isinstance(value, tuple) and value:  # (data, metadata) form of the IPython protocol
        value = value[0]
    return _as_text(value)


def _as_text(value: object) -> str | None:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, str):
        return _bounded(value)
    return None


def _from_mimebundle(obj: object) -> Bundle:
    function = getattr(obj, "_repr_mimebundle_", None)
    if not callable(function) or isinstance(obj, type):
        return {}
    try:
        data = function(include=None, exclude=None)
    except Exception:
        return {}
    if isinstance(data, tuple) and data:
        data = data[0]
    if not isinstance(data, dict):
        return {}
    bundle: Bundle = {}
    for mime, value in data.items():
        text = _as_text(value)
        if isinstance(mime, str) and text is not None:
            bundle[mime] = text
    return bundle


def _plain(obj: object) -> str:
    try:
        return _bounded(repr(obj))
    except Exception as exc:
        return f"<{type(obj).__qualname__} object (repr failed: {type(exc).__name__})>"


def _bounded(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"\n[... {len(text) - MAX_TEXT:,} characters truncated]"


# -- pandas: a bounded preview whatever display options the cell set ------------------------
def _is_pandas(obj: object) -> bool:
    package = type(obj).__module__.partition(".")[0]  # pandas 3 says "pandas", 2 "pandas.core..."
    return package == "pandas" and type(obj).__name__ in ("DataFrame", "Series")


def _pandas_preview(frame: Any) -> Bundle:
    rows = frame.shape[0]
    columns = frame.shape[1] if frame.ndim == 2 else 1
    if rows <= PREVIEW_ROWS and columns <= PREVIEW_COLUMNS:
        return {}  # small: pandas' own representations are already bounded
    head = frame.iloc[:PREVIEW_ROWS]
    if frame.ndim == 2:
        head = head.iloc[:, :PREVIEW_COLUMNS]
    counts = f"{rows:,} rows × {columns:,} columns"
    try:
        table = head if frame.ndim == 2 else head.to_frame()
        html = table.to_html(max_rows=PREVIEW_ROWS, max_cols=PREVIEW_COLUMNS)
        plain = head.to_string(max_rows=PREVIEW_ROWS)
    except Exception:
        return {}
    note = f"first {min(rows, PREVIEW_ROWS):,} rows of {counts}"
    return {"text/plain": f"{plain}\n\n[{note}]", "text/html": f"{html}\n<p>{note}</p>"}


# -- matplotlib ------------------------------------------------------------------------------
def _is_figure(obj: object) -> bool:
    return type(obj).__module__ == "matplotlib.figure" and hasattr(obj, "savefig")


def figure_bundle(figure: Any) -> Bundle:
    """A figure as PNG; it is then closed in pyplot so it is not emitted a second time."""
    buffer = io.BytesIO()
    bundle: Bundle = {"text/plain": _plain(figure)}
    try:
        figure.savefig(buffer, format="png", bbox_inches="tight")
        bundle["image/png"] = base64.b64encode(buffer.getvalue()).decode("ascii")
    except Exception as exc:  # e.g. a bad value in the plotted data: the cell still finishes
        bundle["text/plain"] += f" (could not be rendered: {type(exc).__name__}: {exc})"
    finally:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(figure)
    return bundle


def flush_figures() -> None:
    """Emit every figure open in pyplot, oldest first, and close them."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for number in pyplot.get_fignums():
        emit(figure_bundle(pyplot.figure(number)))


def install_pyplot_hook() -> None:
    """Make pyplot.show() emit the open figures, whether or not pyplot is imported yet."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        _patch_pyplot(pyplot)
    else:
        sys.meta_path.insert(0, _PyplotFinder())


def _show(*_args: object, **_kwargs: object) -> None:
    flush_figures()


def _patch_pyplot(pyplot: ModuleType) -> None:
    pyplot.show = _show  # type: ignore[attr-defined]


class _PyplotFinder(importlib.abc.MetaPathFinder):
    """Patches pyplot right after the cell imports it (the zygote had not preloaded it)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "matplotlib.pyplot":
            return None
        sys.meta_path.remove(self)  # one shot; also keeps the lookup below from recursing
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            _patch_pyplot(module)

        # On the loader instance of this one spec only; the class is untouched.
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
