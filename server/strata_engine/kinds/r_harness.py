"""What runs inside an R cell's process (the local backend's fork): inputs into R's global
environment, the cell through `.strata_run` (r_runtime), plots as image/png displays, the
cell's bindings back to Python and into the store.

R runs embedded in this forked process only, so an R crash (a segfault, `quit()`) ends this
cell's process and nothing else: the engine reports the exit, and the next cell gets a
fresh fork.
"""

from __future__ import annotations

import base64
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strata_engine.backends.local import display
from strata_engine.backends.local.harness import (
    ResultChannel,
    _failure,
    _publish,
    describe_exception,
)
from strata_engine.backends.local.protocol import Message


def run_job(job: Message, channel: ResultChannel) -> None:
    channel.send({"started": os.getpid()})
    display.set_sink(lambda bundle: channel.send({"display": bundle}))
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    try:
        result = _run(job)
    except Exception as exc:  # a bug here (or rpy2 missing), not in the cell
        result = _failure(
            f"R cell harness failed: {describe_exception(exc)}",
            "".join(traceback.format_exception(exc)),
        )
    sys.stdout.flush()
    channel.send({"result": result})


def _run(job: Message) -> Message:
    started = time.perf_counter()
    from strata_engine.kinds import r_runtime

    ri = r_runtime.start()
    if os.environ.get("STRATA_R_TIMING"):
        print(f"strata: R ready in {time.perf_counter() - started:.3f} s", file=sys.stderr)
    from strata_engine.kinds import r_convert

    blobs = _blobs(job) if job["inputs"] or job["publish"] else None
    failure = _bind_inputs(job["inputs"], blobs, ri, r_convert)
    if failure is not None:
        return failure
    with tempfile.TemporaryDirectory(prefix="strata-r-plots-") as plots:
        pattern = str(Path(plots) / "page-%04d.png")
        outcome = ri.globalenv.find(".strata_run")(
            ri.StrSexpVector([job["source"]]),
            ri.StrSexpVector([job["filename"]]),
            ri.StrSexpVector([pattern]),
        )
        _show_plots(Path(plots))
    error = _error(outcome, job["filename"])
    if error is not None:
        return error
    return _publish_r(job, blobs, ri, r_convert)


def _blobs(job: Message) -> Any:
    from strata_engine.store import BlobStore

    return BlobStore(Path(job["store"]["root"]), durable=job["store"]["durable"])


def _bind_inputs(inputs: Mapping[str, Any], blobs: Any, ri: Any, convert: Any) -> Message | None:
    from strata_engine.store import StoredValue, load_value

    for name, stored in inputs.items():
        try:
            value = load_value(blobs, StoredValue.from_json(stored))
        except Exception as exc:
            return _failure(f"could not load input {name!r}: {describe_exception(exc)}")
        try:
            ri.globalenv[name] = convert.to_r(value)
        except convert.NoREquivalent as exc:
            # Often a name the cell only calls as an R function (R skips non-functions
            # when it looks a call up): say so, and let the cell decide.
            print(f"strata: input {name!r} is not bound in R: {exc}", file=sys.stderr)
    return None


def _show_plots(directory: Path) -> None:
    """Every page the cell drew, in order (a page R opened but never drew on is skipped)."""
    for page in sorted(directory.glob("page-*.png")):
        data = page.read_bytes()
        if data:
            encoded = base64.b64encode(data).decode("ascii")
            display.emit({"text/plain": "<R plot>", "image/png": encoded})


def _error(outcome: Any, filename: str) -> Message | None:
    fields = dict(zip(outcome.names, outcome, strict=True)) if outcome.names else {}
    if "error" not in fields:
        return None
    message = str(fields["error"][0]).strip()
    line = fields["line"][0]
    call = str(fields["call"][0]) if "call" in fields else ""
    where = f"{filename}, line {line}" if isinstance(line, int) and line > 0 else filename
    text = f"R error at {where}: {message}"
    detail = f"Error in {call}: {message}" if call else f"Error: {message}"
    return _failure(text, f"{detail}\n  at {where}\n")


def _publish_r(job: Message, blobs: Any, ri: Any, convert: Any) -> Message:
    """The cell's top-level R bindings as Python values, stored by the normal codecs."""
    values: dict[str, Any] = {}
    for name in job["publish"]:
        if name not in ri.globalenv:
            continue
        try:
            values[name] = convert.from_r(ri.globalenv[name])
        except Exception as exc:
            if name in job["required"]:
                return _failure(f"cannot bring R variable {name!r} to Python: {exc}")
            print(f"strata: not storing {name!r}: {describe_exception(exc)}", file=sys.stderr)
    missing = [n for n in job["required"] if n not in values]
    if missing:
        return _failure(f"cell did not define {missing[0]!r}, which a downstream cell reads")
    return _publish(list(values), frozenset(job["required"]), values, blobs)
