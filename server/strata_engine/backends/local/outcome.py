"""From what was observed about a run (ProcessReport) to the CellResult the engine stores."""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING, Any

from strata_engine.backends.jobs import CellResult
from strata_engine.backends.local.supervisor import ProcessReport

if TYPE_CHECKING:
    from strata_engine.store import StoredValue


def build_result(
    report: ProcessReport,
    *,
    timeout: float,
    start_timeout: float,
    duration_ms: float,
    worker_log: str = "",
) -> CellResult:
    result = report.result
    if result is not None:
        # The cell finished and said so: a kill that raced with its exit changes nothing.
        return CellResult(
            status="ok" if result.get("status") == "ok" else "error",
            outputs=_decode_outputs(result.get("outputs") or {}),
            displays=report.displays,
            stdout=report.stdout,
            stderr=report.stderr,
            error=result.get("error"),
            traceback=result.get("traceback"),
            duration_ms=duration_ms,
            unstored=dict(result.get("unstored") or {}),
            iterations=report.iterations,
            mutations=list(result.get("mutations") or []),
        )
    return CellResult(
        status="error",
        outputs={},
        displays=report.displays,
        stdout=report.stdout,
        stderr=report.stderr,
        error=failure_reason(report, timeout, start_timeout, worker_log),
        traceback=None,
        duration_ms=duration_ms,
        iterations=report.iterations,  # what a crash or timeout did not take back
    )


def failure_reason(
    report: ProcessReport, timeout: float, start_timeout: float, worker_log: str
) -> str:
    """One line saying why a cell produced no result."""
    if report.cancelled:
        return "cancelled"
    if report.timed_out:
        return f"cell timed out after {timeout:g}s"
    if report.start_timed_out:
        return f"the Python worker did not start the cell within {start_timeout:g}s"
    if report.exit_called is not None:
        return f"cell called os._exit({report.exit_called})"
    if report.wait_status is not None:
        return describe_exit(report.wait_status)
    if report.zygote_lost and report.started:
        return "the Python worker process died while the cell was running"
    if report.zygote_lost:
        last = worker_log.splitlines()[-1] if worker_log else "no message"
        return f"the Python worker process could not start the cell ({last})"
    return "cell process ended without a result"


def describe_exit(wait_status: int) -> str:
    """A raw wait status as a sentence: exit code or the signal that killed the process."""
    code = os.waitstatus_to_exitcode(wait_status)
    if code >= 0:
        return f"cell process exited with code {code} before finishing"
    number = -code
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    description = (signal.strsignal(number) or name).lower()
    hint = ", possibly out of memory" if number == signal.SIGKILL else ""
    return f"cell process died: {description} ({name}){hint}"


def _decode_outputs(outputs: dict[str, Any]) -> dict[str, StoredValue]:
    if not outputs:
        return {}
    from strata_engine.store import StoredValue

    return {name: StoredValue.from_json(data) for name, data in outputs.items()}
