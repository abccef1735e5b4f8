"""What a run reports while it goes: the CLI prints these, the language server forwards them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from strata_engine.run.report import CellRun as CellRun
from strata_engine.run.report import RunReport as RunReport


@dataclass
class CellStarted:
    cell_id: str
    worker: str
    """The cell's effective worker, as placed (`@worker` > cell entry > `--worker` > default)."""
    backend: str = "local"
    """That worker's backend: anything but "local" means the cell was dispatched elsewhere."""


@dataclass
class CellStream:
    cell_id: str
    stream: str
    text: str


@dataclass
class CellDisplay:
    """A display (mime bundle) as the running cell shows it; hits replay theirs in
    `CellFinished.run.displays` instead."""

    cell_id: str
    bundle: dict[str, str]


@dataclass
class CellProgress:
    """A `@loop` cell stored one more iteration (its console streams as CellStream)."""

    cell_id: str
    iteration: int
    """0-based: the K of `start_from=ID@iter=K`; iteration + 1 of max_iter are done."""
    max_iter: int
    stopped: bool = False
    """`@loop_until` was true after this iteration: it is the last one."""
    duration_ms: float = 0.0


@dataclass
class CellFinished:
    run: CellRun


Event = CellStarted | CellStream | CellDisplay | CellProgress | CellFinished
EventSink = Callable[[Event], None]


def ignore_events(_event: Event) -> None:
    return None
