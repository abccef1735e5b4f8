"""Cell outcomes and cached outputs as a model should see them: console text cut, displays
as their text (images named by the artifact that holds them, never inlined), variables
described from the store without loading them."""

from __future__ import annotations

from typing import Any

from strata_engine.agent.bounds import clip
from strata_engine.run.events import CellRun
from strata_engine.run.variables import describe
from strata_engine.store import BlobStore, Entry
from strata_engine.store.index import load_displays

MAX_CONSOLE = 1500
MAX_DISPLAYS = 10
_TEXT_MIMES = ("text/markdown", "text/plain")


def display_items(
    blobs: BlobStore, displays: list[dict[str, str]], digest: str | None
) -> list[dict[str, Any]]:
    """Each display bundle as its text, or, for images and HTML, a reference to the stored
    displays blob (`artifact`, `index`) with the size it would take."""
    items: list[dict[str, Any]] = []
    for index, bundle in enumerate(displays[:MAX_DISPLAYS]):
        item: dict[str, Any] = {"index": index, "mimeTypes": sorted(bundle)}
        images = [m for m in bundle if m.startswith("image/")]
        if images:
            item["image"] = {"mime": images[0], "characters": len(bundle[images[0]])}
            if digest is not None:
                item["artifact"] = str(blobs.path(digest))
        text = next((bundle[m] for m in _TEXT_MIMES if m in bundle), None)
        if text is not None:
            item["text"] = clip(text, 800)
        items.append(item)
    if len(displays) > MAX_DISPLAYS:
        items.append({"note": f"{len(displays) - MAX_DISPLAYS} more displays not shown"})
    return items


def run_outcome(run: CellRun, blobs: BlobStore | None = None) -> dict[str, Any]:
    """One cell's outcome in a run."""
    out: dict[str, Any] = {
        "cell": run.id,
        "status": run.status,
        "cacheHit": run.cache_hit,
        "executed": run.executed,
        "durationMs": round(run.duration_ms, 1),
    }
    if run.key:
        out["key"] = run.key  # the entry an editor shows for this run (not the text it has)
    for name in ("error", "reason"):
        value = getattr(run, name)
        if value:
            out[name] = clip(value, 800)
    if run.traceback:
        out["traceback"] = clip(run.traceback[-MAX_CONSOLE:], MAX_CONSOLE)
    for name in ("stdout", "stderr"):
        value = getattr(run, name)
        if value:
            out[name] = clip(value, MAX_CONSOLE)
    if run.displays and blobs is not None:
        out["displays"] = display_items(blobs, run.displays, None)
    return out


def entry_outputs(blobs: BlobStore, entry: Entry) -> dict[str, Any]:
    """What a stored result holds: console, error, displays and published variables."""
    out: dict[str, Any] = {"status": entry.status, "durationMs": round(entry.duration_ms, 1)}
    if entry.error:
        out["error"] = clip(entry.error, 800)
    for name in ("stdout", "stderr"):
        value = getattr(entry, name)
        if value:
            out[name] = clip(value, MAX_CONSOLE)
    try:
        displays = load_displays(blobs, entry.displays_digest)
    except (OSError, ValueError):
        displays = []
        out["displaysNote"] = "the stored displays could not be read"
    if displays:
        out["displays"] = display_items(blobs, displays, entry.displays_digest)
    out["variables"] = [
        describe(blobs, name, stored).to_json() for name, stored in entry.outputs.items()
    ]
    return out


def run_summary(outcomes: list[dict[str, Any]]) -> str:
    """One line per cell: what happened, and the first error."""
    lines = []
    for o in outcomes:
        word = "cached" if o["cacheHit"] else o["status"]
        line = f"{o['cell']}: {word}"
        if o["executed"]:
            line += f" ({o['durationMs'] / 1000:.2f}s)"
        if o.get("error") or o.get("reason"):
            line += f": {o.get('error') or o.get('reason')}"
        lines.append(line)
    executed = sum(o["executed"] for o in outcomes)
    hits = sum(o["cacheHit"] for o in outcomes)
    failed = sum(o["status"] == "error" for o in outcomes)
    head = f"{len(outcomes)} cells: {executed} executed, {hits} cached, {failed} failed"
    return "\n".join([head, *lines])
