"""A `@loop` cell's iterations, inside the cell's process (SPEC 9 "Loop").

The Python harness calls `run_loop` instead of running the body once. The body runs up to
`max_iter` times in this one process (no fork per iteration): each iteration gets a fresh
cell namespace holding the upstream values, as a plain run of the cell would, plus the
carry, which comes from the upstream producer (or the `start_from` iteration) on iteration
0 and from the previous iteration after that. After each iteration the carry is written to
the blob store and reported as an `{"iteration": ...}` record, which the engine stores as
its own entry (`run/loop_job.py`) and announces as progress; `@loop_until` is evaluated in
that iteration's namespace and ends the loop once truthy. The last iteration's namespace is
what the cell publishes, and its trailing expression is the cell's display.

A failure at iteration k (the body raises, the carry is not bound or cannot be stored,
`@loop_until` raises) fails the cell naming k; the iterations before it were already
reported, so the engine keeps them.
"""

from __future__ import annotations

import contextlib
import sys
import time
import traceback
import types
from collections.abc import Callable, Mapping
from typing import Any

from strata_engine.backends.local import display
from strata_engine.backends.local.harness import (
    cell_traceback,
    compile_cell,
    describe_exception,
    load_input,
    new_namespace,
)
from strata_engine.backends.local.protocol import Message

Send = Callable[[Mapping[str, Any]], None]

_SHARED_TYPES: tuple[type, ...] = (
    *(int, float, complex, str, bytes, bool, type(None), range, type),
    *(types.ModuleType, types.FunctionType, types.BuiltinFunctionType),
)
"""Upstream values an iteration cannot change in place: loaded once for the whole loop.
Anything else is loaded again for every iteration, so each one sees the upstream value as
stored, never what an earlier iteration did to it (as a fresh process per iteration
would)."""


class _Loop:
    def __init__(self, job: Message, spec: Message, blobs: Any, send: Send) -> None:
        self.source: str = job["source"]
        self.filename: str = job["filename"]
        self.max_iter = int(spec["max_iter"])
        self.carry: str = spec["carry"]
        self.until: str | None = spec.get("until")
        self.seed: Any = spec.get("seed")
        self.inputs: Mapping[str, Any] = job["inputs"]
        self.blobs = blobs
        self.send = send
        self.reloaded: list[str] = []

    def fail(self, k: int, what: str, tb: str | None = None) -> Message:
        done = f"iterations 0..{k - 1} are stored" if k else "no iteration is stored"
        error = f"@loop iteration {k} (of at most {self.max_iter}) {what}; {done}"
        return {"status": "error", "error": error, "traceback": tb, "outputs": {}, "unstored": {}}

    def base(self, namespace: dict[str, Any]) -> dict[str, Any]:
        """The names every iteration starts from: upstream values and mounts, no carry."""
        base = {k: v for k, v in namespace.items() if not k.startswith("__")}
        self.reloaded = [
            name
            for name in self.inputs
            if name != self.carry and not isinstance(base.get(name), _SHARED_TYPES)
        ]
        return base

    def fresh(self, base: Mapping[str, Any], carry: Any, has_carry: bool) -> dict[str, Any]:
        namespace = new_namespace(base)
        for name in self.reloaded:
            namespace[name] = load_input(self.blobs, self.inputs[name])
        if has_carry:
            namespace[self.carry] = carry
        else:
            namespace.pop(self.carry, None)
        return namespace

    def store_carry(self, k: int, namespace: Mapping[str, Any]) -> tuple[Any, Message | None]:
        from strata_engine.store import store_value

        if self.carry not in namespace:
            what = f"did not bind the carry {self.carry!r}; assign it in the body"
            return None, self.fail(k, what)
        try:
            return store_value(self.blobs, self.carry, namespace[self.carry]).to_json(), None
        except Exception as exc:
            return None, self.fail(k, f"could not store the carry: {describe_exception(exc)}")


def run_loop(
    job: Message, spec: Message, namespace: dict[str, Any], blobs: Any, send: Send
) -> tuple[dict[str, Any], Message | None]:
    """Iterate; the last iteration's namespace and None, or a failure naming the iteration."""
    loop = _Loop(job, spec, blobs, send)
    try:
        body, last = compile_cell(loop.source, loop.filename)
        until = compile(loop.until, "<@loop_until>", "eval") if loop.until else None
    except (SyntaxError, ValueError) as exc:
        return namespace, _failure_only(describe_exception(exc), exc)
    if loop.seed is not None:
        namespace[loop.carry] = load_input(blobs, loop.seed)
    has_carry = loop.carry in namespace
    carry = namespace.get(loop.carry)
    base = loop.base(namespace)
    value: object = None
    for k in range(loop.max_iter):
        began = time.perf_counter()
        namespace = loop.fresh(base, carry, has_carry)
        try:
            eval(body, namespace)
            value = eval(last, namespace) if last is not None else None
        except BaseException as exc:  # the process exists for this cell, as in the harness
            display.flush_figures()
            what = "raised " + describe_exception(exc)
            if isinstance(exc, SystemExit):
                what = "called sys.exit()"
            return namespace, loop.fail(k, what, cell_traceback(exc, loop.filename))
        display.flush_figures()
        stored, failure = loop.store_carry(k, namespace)
        if failure is not None:
            return namespace, failure
        stop, failure = _until(loop, k, until, namespace)
        if failure is not None:
            return namespace, failure
        _flush_console()
        loop.send({"iteration": _record(loop, k, stored, stop, began)})
        carry, has_carry = namespace[loop.carry], True
        if stop:
            break
    if value is not None:
        display.display(value)
    return namespace, None


def _until(
    loop: _Loop, k: int, until: Any, namespace: dict[str, Any]
) -> tuple[bool, Message | None]:
    if until is None:
        return False, None
    try:
        return bool(eval(until, namespace)), None
    except BaseException as exc:
        tb = "".join(traceback.format_exception(exc))
        what = f"@loop_until {loop.until!r} raised {describe_exception(exc)}"
        return False, loop.fail(k, what, tb)


def _record(loop: _Loop, k: int, stored: Any, stop: bool, began: float) -> dict[str, Any]:
    return {
        "index": k,
        "max_iter": loop.max_iter,
        "carry": loop.carry,
        "value": stored,
        "stopped": stop,
        "duration_ms": (time.perf_counter() - began) * 1000.0,
    }


def _flush_console() -> None:
    # An iteration's prints reach the engine before the record that closes it, as far as
    # two pipes allow.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def _failure_only(error: str, exc: BaseException) -> Message:
    tb = "".join(traceback.format_exception_only(exc))
    return {"status": "error", "error": error, "traceback": tb, "outputs": {}, "unstored": {}}
