"""What runs inside a cell's process: load inputs, execute the source, display, publish.

The process is a fresh fork of the zygote, so module state the cell mutates dies with it.
Everything goes back to the engine as records on the result channel: {"started": pid} first,
each {"display": bundle} as it happens, then one {"result": ...} (or {"exit": code} if the
cell calls os._exit). Values never cross the channel: the cell writes its outputs to the blob
store itself and reports their metadata.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import inspect
import linecache
import os
import sys
import threading
import traceback
import types
from collections.abc import Mapping
from pathlib import Path
from types import CodeType, TracebackType
from typing import Any, NoReturn

from strata_engine.backends.local import display, mutation
from strata_engine.backends.local.mutation_scope import unchangeable
from strata_engine.backends.local.protocol import Message, encode_record, write_all

CELL_MODULE = "__strata_cell__"
_COMPILE_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


class ResultChannel:
    """The write end of the result pipe: one JSON record per call, written whole."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        # display() from the cell's threads: a record over PIPE_BUF is written in pieces.
        self._lock = threading.Lock()

    def send(self, record: Mapping[str, Any]) -> None:
        data = encode_record(record)
        with self._lock:
            write_all(self._fd, data)


def run_job(job: Message, channel: ResultChannel) -> None:
    """Run one cell job (see LocalExecutor for its fields) and send its result record."""
    channel.send({"started": os.getpid()})  # before any of the cell's code can run
    display.set_sink(lambda bundle: channel.send({"display": bundle}))
    _report_os_exit(channel)
    try:
        result = _run(job, channel)
    except Exception as exc:  # a bug here, not in the cell: say so rather than just exit
        result = _failure(
            f"internal error in the cell harness: {describe_exception(exc)}",
            "".join(traceback.format_exception(exc)),
        )
    channel.send({"result": result})


def _run(job: Message, channel: ResultChannel) -> Message:
    _prepare_process(job)
    namespace = _cell_namespace()
    inputs: dict[str, Any] = job["inputs"]
    loop: Message | None = job.get("loop")
    blobs = None
    if inputs or job["publish"] or loop is not None:
        from strata_engine.store import BlobStore

        blobs = BlobStore(Path(job["store"]["root"]), durable=job["store"]["durable"])
    mounts = _mounts(job)
    try:
        failure = _load_inputs(inputs, namespace, blobs)
        if failure is not None:
            return failure
        problem = mounts.bind(namespace) if mounts is not None else None
        if problem is not None:
            return _failure(*problem)
        watched: Any = None
        if loop is not None:
            from strata_engine.kinds.loop_driver import run_loop

            # The loop's last namespace is what the cell publishes.
            namespace, failure = run_loop(job, loop, namespace, blobs, channel.send)
        else:
            watched = _watch_inputs(job, namespace)
            failure = _execute(job["source"], job["filename"], namespace)
        if failure is not None:
            return failure
        result = _publish(job["publish"], frozenset(job["required"]), namespace, blobs)
        if watched:
            result["mutations"] = mutation.changed(watched, job["source"])
        # A read-write mount's target changes only when the cell succeeded.
        problem = mounts.commit() if mounts is not None and result["status"] == "ok" else None
        return _failure(*problem) if problem is not None else result
    finally:
        # The process ends with os._exit, which runs no finalizers: dropping the cell's
        # variables closes (and so flushes) files it left open, as interpreter exit would.
        # clear() rather than del: the cell's functions keep the dict itself alive.
        namespace.clear()
        if mounts is not None:
            mounts.close()


def _watch_inputs(job: Message, namespace: dict[str, Any]) -> Any:
    """Digests of the inputs the cell could change in place without publishing them again
    (a loop reloads its inputs each iteration instead: see loop_driver)."""
    if not job["inputs"]:
        return None
    # Inputs the cell publishes again are not watched (their readers get the new value), nor
    # pandas inputs its source provably cannot change (mutation_scope.py).
    skip = frozenset(job["publish"]) | unchangeable(job["source"], job["inputs"], namespace)
    return mutation.watch(job["inputs"], namespace, skip=skip)


def _mounts(job: Message) -> Any:
    """The job's mounts (`strata_engine.mounts.runtime.CellMounts`), None without any: a
    cell without mounts never imports the mount machinery."""
    specs = job.get("mounts") or []
    if not specs:
        return None
    from strata_engine.mounts.runtime import CellMounts

    return CellMounts(specs)


def _prepare_process(job: Message) -> None:
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    # Like a script run from the notebook directory: helper modules beside it import.
    sys.path.insert(0, job["cwd"])
    source: str = job["source"]
    # Tracebacks and inspect.getsource read the source that ran, not whatever is on disk.
    linecache.cache[job["filename"]] = (
        len(source),
        None,
        source.splitlines(keepends=True),
        job["filename"],
    )
    reseed_numpy()
    display.install_pyplot_hook()


_reseeded_in: int | None = None


def reseed_numpy() -> None:
    """Forked processes share the zygote's RNG state; random reseeds itself at fork, numpy's
    legacy global generator does not. Once per process, and a spare does it while it waits
    for its job (the first seeding in a fork costs ~1 ms)."""
    global _reseeded_in
    if _reseeded_in == os.getpid():
        return
    # Not imported yet (numpy imports it lazily): it seeds itself when the cell imports it.
    generator = sys.modules.get("numpy.random")
    if generator is not None:
        generator.seed()
    _reseeded_in = os.getpid()


def _cell_namespace() -> dict[str, Any]:
    """The cell's globals: the dict of a module registered as __strata_cell__.

    Registered, so that what works in a script's __main__ works here too within the cell's
    process and its forks (plain pickle of cell functions, as multiprocessing does; dataclass
    and type-hint lookups through sys.modules). Registered with cloudpickle as "by value",
    so published functions and classes still travel with their code, never as a reference
    to a module another cell's process does not have.
    """
    module = types.ModuleType(CELL_MODULE)
    sys.modules[CELL_MODULE] = module
    cloudpickle = sys.modules.get("cloudpickle")  # preloaded by the zygote
    if cloudpickle is not None:
        cloudpickle.register_pickle_by_value(module)
    namespace = module.__dict__
    namespace.update(
        {"__builtins__": builtins, "display": display.display, "Markdown": display.Markdown}
    )
    return namespace


def _report_os_exit(channel: ResultChannel) -> None:
    """Tell the engine the cell called os._exit, as the exit code alone cannot say so."""
    real_exit = os._exit
    cell_pid = os.getpid()

    def _exit(status: int) -> NoReturn:
        if os.getpid() == cell_pid:  # not in a process the cell forked
            with contextlib.suppress(OSError):
                channel.send({"exit": status})
        real_exit(status)

    os._exit = _exit


def _load_inputs(
    inputs: Mapping[str, Any], namespace: dict[str, Any], blobs: Any
) -> Message | None:
    if not inputs:
        return None
    from strata_engine.store import StoredValue, load_value

    for name, stored in inputs.items():
        try:
            namespace[name] = load_value(blobs, StoredValue.from_json(stored))
        except Exception as exc:
            return _failure(
                f"could not load input {name!r}: {describe_exception(exc)}",
                "".join(traceback.format_exception(exc)),
            )
    return None


# -- execution ---------------------------------------------------------------------------------
def _execute(source: str, filename: str, namespace: dict[str, Any]) -> Message | None:
    try:
        body, last = compile_cell(source, filename)
    except (SyntaxError, ValueError) as exc:  # ValueError: source with NUL bytes
        return _failure(describe_exception(exc), "".join(traceback.format_exception_only(exc)))
    value: object = None
    failure: Message | None = None
    try:
        _run_code(body, namespace)
        if last is not None:
            value = _run_code(last, namespace)
    except SystemExit as exc:
        code = "" if exc.code is None else repr(exc.code)
        failure = _failure(f"cell called sys.exit({code})", cell_traceback(exc, filename))
    except BaseException as exc:  # KeyboardInterrupt too: this process exists for the cell
        failure = _failure(describe_exception(exc), cell_traceback(exc, filename))
    # Figures first, then the trailing expression (SPEC 8); figures also after an error.
    display.flush_figures()
    if failure is None and value is not None:
        display.display(value)
    return failure


def compile_cell(source: str, filename: str) -> tuple[CodeType, CodeType | None]:
    """The statements, and the trailing expression compiled apart so its value is kept."""
    tree = ast.parse(source, filename, "exec", type_comments=False)
    last: ast.Expression | None = None
    if tree.body and isinstance(final := tree.body[-1], ast.Expr):
        tree.body.pop()
        last = ast.Expression(final.value)
    # dont_inherit: this module's `from __future__ import annotations` must not leak in.
    body = compile(tree, filename, "exec", flags=_COMPILE_FLAGS, dont_inherit=True)
    if last is None:
        return body, None
    return body, compile(last, filename, "eval", flags=_COMPILE_FLAGS, dont_inherit=True)


def _run_code(code: CodeType, namespace: dict[str, Any]) -> object:
    result = eval(code, namespace)
    if code.co_flags & inspect.CO_COROUTINE:  # the cell used top-level await
        import asyncio

        result = asyncio.run(result)
    return result


# -- publishing --------------------------------------------------------------------------------
def _publish(
    publish: list[str], required: frozenset[str], namespace: dict[str, Any], blobs: Any
) -> Message:
    if not publish:
        return {"status": "ok", "outputs": {}, "unstored": {}}
    from strata_engine.store import UnstorableValue, store_value

    outputs: dict[str, Any] = {}
    unstored: dict[str, str] = {}
    for name in publish:
        if name not in namespace:
            if name in required:
                return _failure(f"cell did not define {name!r}, which a downstream cell reads")
            continue
        value = namespace[name]
        try:
            outputs[name] = store_value(blobs, name, value).to_json()
        except Exception as exc:
            if name in required:
                return _failure(_storing_error(name, value, exc))
            unstored[name] = type_name(value)
            if not isinstance(exc, UnstorableValue):
                print(f"strata: not storing {name!r}: {describe_exception(exc)}", file=sys.stderr)
    return {"status": "ok", "outputs": outputs, "unstored": unstored}


def _storing_error(name: str, value: object, exc: Exception) -> str:
    message = str(exc) or type(exc).__name__
    if repr(name) in message or f"`{name}`" in message:
        return message.splitlines()[0]  # the store already named the variable and its type
    first = message.splitlines()[0]
    return f"cannot store variable {name!r} of type {type_name(value)}: {first}"


def new_namespace(base: Mapping[str, Any]) -> dict[str, Any]:
    """A fresh cell namespace holding `base`'s names (a loop's next iteration)."""
    namespace = _cell_namespace()
    namespace.update(base)
    return namespace


def load_input(blobs: Any, stored: Any) -> Any:
    from strata_engine.store import StoredValue, load_value

    return load_value(blobs, StoredValue.from_json(stored))


def _failure(error: str, tb: str | None = None) -> Message:
    return {"status": "error", "error": error, "traceback": tb, "outputs": {}, "unstored": {}}


# -- error text --------------------------------------------------------------------------------
def type_name(value: object) -> str:
    """How traceback names a type: qualified unless it is a builtin or defined by a cell."""
    cls = value if isinstance(value, type) else type(value)
    if cls.__module__ in ("builtins", CELL_MODULE, "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_exception(exc: BaseException) -> str:
    """One line: "ZeroDivisionError: division by zero"."""
    message = str(exc).strip()
    first = message.splitlines()[0] if message else ""
    return f"{type_name(exc)}: {first}" if first else type_name(exc)


def cell_traceback(exc: BaseException, filename: str) -> str:
    """The traceback from the cell's first frame on: the harness frames above it are noise."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
