"""LocalExecutor end to end: real zygote, real forked cells, real blob store.

One warm executor serves the whole module (isolation between cells is what is under test,
and the zygote is what provides it). Tests that break or replace the worker itself live in
test_execution_process.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_job

from strata_engine.backends.jobs import CellJob, CellResult
from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.store import BlobStore, StoredValue, load_value, store_value


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> BlobStore:
    return BlobStore(tmp_path_factory.mktemp("artifacts"))


@pytest.fixture(scope="module")
def executor(blobs: BlobStore) -> Iterator[LocalExecutor]:
    with LocalExecutor(blobs, preload=["pandas", "matplotlib.pyplot"]) as warm:
        yield warm


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# -- output ------------------------------------------------------------------------------------
def test_stdout_and_stderr_are_captured_and_streamed(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    chunks: list[tuple[str, str]] = []
    source = """
        import sys, os, subprocess
        print("from python")
        print("to stderr", file=sys.stderr)
        os.write(1, b"from the file descriptor\\n")
        subprocess.run(["echo", "from a subprocess"], check=True)
    """
    result = executor.run(make_job(tmp_path, source), on_stream=lambda s, t: chunks.append((s, t)))
    assert result.status == "ok", result.error
    assert result.stdout == "from python\nfrom the file descriptor\nfrom a subprocess\n"
    assert result.stderr == "to stderr\n"
    assert "".join(t for s, t in chunks if s == "stdout") == result.stdout
    assert "".join(t for s, t in chunks if s == "stderr") == result.stderr


def test_the_trailing_expression_is_displayed_after_display_calls(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    source = """
        display("first", 2)
        display(Markdown("**bold**"))
        40 + 2
    """
    result = executor.run(make_job(tmp_path, source))
    assert [d["text/plain"] for d in result.displays] == ["'first'", "2", "**bold**", "42"]
    assert result.displays[2]["text/markdown"] == "**bold**"


def test_displays_also_go_to_a_callback_as_they_happen(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    shown: list[str] = []
    printed: list[str] = []
    source = """
        display("a")
        print("between")
        display("b")
    """
    result = executor.run(
        make_job(tmp_path, source),
        on_stream=lambda _s, text: printed.append(text),
        on_display=lambda bundle: shown.append(bundle["text/plain"]),
    )
    assert shown == [d["text/plain"] for d in result.displays] == ["'a'", "'b'"]
    assert "".join(printed) == "between\n"


def test_a_trailing_none_is_not_displayed(executor: LocalExecutor, tmp_path: Path) -> None:
    result = executor.run(make_job(tmp_path, "x = 1\nprint(x)\n"))
    assert result.displays == []
    assert executor.run(make_job(tmp_path, "None\n")).displays == []


def test_dataframes_display_as_html(executor: LocalExecutor, tmp_path: Path) -> None:
    source = """
        import pandas as pd
        pd.DataFrame({"a": range(100_000)})
    """
    (bundle,) = executor.run(make_job(tmp_path, source)).displays
    assert "<table" in bundle["text/html"]
    assert "100,000 rows × 1 columns" in bundle["text/html"]


def test_figures_appear_in_call_order(executor: LocalExecutor, tmp_path: Path) -> None:
    source = """
        import matplotlib.pyplot as plt
        plt.plot([1, 2])
        plt.show()
        display("between")
        fig = plt.figure()
        plt.plot([3, 1])
        shown = plt.figure()
        display(shown)
        "last"
    """
    result = executor.run(make_job(tmp_path, source))
    assert result.status == "ok", result.error
    kinds = ["png" if "image/png" in d else d["text/plain"] for d in result.displays]
    # show(); display("between"); display(shown); the figure still open at the end; the value
    assert kinds == ["png", "'between'", "png", "png", "'last'"]
    assert result.stderr == ""  # no "FigureCanvasAgg is non-interactive" warning


def test_pyplot_imported_by_the_cell_itself_is_hooked_too(blobs: BlobStore, tmp_path: Path) -> None:
    with LocalExecutor(blobs) as cold:  # nothing preloaded: the cell imports pyplot
        source = "import matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()\ndisplay('after')\n"
        result = cold.run(make_job(tmp_path, source))
    assert result.status == "ok", result.error
    assert ["image/png" in d for d in result.displays] == [True, False]


def test_pil_images_display_as_png(executor: LocalExecutor, tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    source = "from PIL import Image\nImage.new('RGB', (4, 4), 'red')\n"
    (bundle,) = executor.run(make_job(tmp_path, source)).displays
    assert bundle["image/png"]


# -- errors ------------------------------------------------------------------------------------
def test_an_exception_reports_the_cells_own_frames(executor: LocalExecutor, tmp_path: Path) -> None:
    source = """
        def ratio(a, b):
            return a / b

        x = 1
        ratio(x, 0)
    """
    result = executor.run(make_job(tmp_path, source, filename="cells/load.py"))
    assert result.status == "error"
    assert result.error == "ZeroDivisionError: division by zero"
    assert result.traceback is not None
    assert 'File "cells/load.py", line 6, in <module>' in result.traceback
    assert 'File "cells/load.py", line 3, in ratio' in result.traceback
    assert "return a / b" in result.traceback  # the source line, from the cell's text
    assert "harness" not in result.traceback and "zygote_server" not in result.traceback


def test_a_syntax_error_names_the_cell_file(executor: LocalExecutor, tmp_path: Path) -> None:
    result = executor.run(make_job(tmp_path, "x = (1,\n", filename="cells/bad.py"))
    assert result.status == "error"
    assert result.error is not None and result.error.startswith("SyntaxError:")
    assert result.traceback is not None and "cells/bad.py" in result.traceback


def test_sys_exit_is_an_error_not_a_dead_worker(executor: LocalExecutor, tmp_path: Path) -> None:
    worker = executor.worker_pid
    result = executor.run(make_job(tmp_path, "import sys\nprint('bye')\nsys.exit(2)\n"))
    assert (result.status, result.error, result.stdout) == (
        "error",
        "cell called sys.exit(2)",
        "bye\n",
    )
    assert executor.run(make_job(tmp_path, "1\n")).status == "ok"
    assert executor.worker_pid == worker


def test_os_exit_keeps_what_was_printed(executor: LocalExecutor, tmp_path: Path) -> None:
    source = "import os\nprint('before', end='')\nos._exit(3)\n"
    result = executor.run(make_job(tmp_path, source))
    assert (result.status, result.error) == ("error", "cell called os._exit(3)")
    assert result.stdout == "before"


def test_an_exit_from_c_code_is_reported_with_its_code(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    source = "import ctypes\nprint('before')\nctypes.CDLL(None).exit(4)\n"
    result = executor.run(make_job(tmp_path, source))
    assert result.error == "cell process exited with code 4 before finishing"
    assert result.stdout == "before\n"


def test_a_segfault_keeps_what_was_printed(executor: LocalExecutor, tmp_path: Path) -> None:
    source = "import ctypes\nprint('before the crash')\nctypes.string_at(0)\n"
    result = executor.run(make_job(tmp_path, source, filename="cells/crash.py"))
    assert (result.status, result.error) == (
        "error",
        "cell process died: segmentation fault (SIGSEGV)",
    )
    assert result.stdout == "before the crash\n"
    assert 'File "cells/crash.py", line 3' in result.stderr  # faulthandler's Python stack


def test_a_cell_killed_by_a_signal(executor: LocalExecutor, tmp_path: Path) -> None:
    result = executor.run(
        make_job(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    )
    assert result.error is not None
    assert result.error.startswith("cell process died: killed (SIGKILL)")


# -- timeouts and cancellation -----------------------------------------------------------------
SPAWN_AND_WAIT = """
    import os, subprocess, time
    child = subprocess.Popen(["sleep", "1000"])
    with open("pids", "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    print("ready", flush=True)
    time.sleep(1000)
"""


def _pids(directory: Path) -> list[int]:
    return [int(p) for p in (directory / "pids").read_text().split()]


def test_a_timeout_kills_the_cell_and_its_subprocesses(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    result = executor.run(make_job(tmp_path, SPAWN_AND_WAIT, timeout=1.5))
    assert (result.status, result.error) == ("error", "cell timed out after 1.5s")
    assert result.stdout == "ready\n"
    for pid in _pids(tmp_path):
        assert_gone(pid)


def test_cancel_from_another_thread(executor: LocalExecutor, tmp_path: Path) -> None:
    ready = threading.Event()

    def cancel_when_ready() -> None:
        ready.wait(60)
        executor.cancel()

    canceller = threading.Thread(target=cancel_when_ready)
    canceller.start()
    result = executor.run(
        make_job(tmp_path, SPAWN_AND_WAIT),
        on_stream=lambda _s, text: ready.set() if "ready" in text else None,
    )
    canceller.join()
    assert (result.status, result.error) == ("error", "cancelled")
    for pid in _pids(tmp_path):
        assert_gone(pid)
    assert executor.run(make_job(tmp_path, "'still warm'\n")).status == "ok"


def test_processes_a_cell_leaves_behind_end_with_it(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    source = """
        import subprocess
        child = subprocess.Popen(["sleep", "1000"], stdout=subprocess.DEVNULL)
        open("pids", "w").write(str(child.pid))
    """
    assert executor.run(make_job(tmp_path, source)).status == "ok"
    assert_gone(_pids(tmp_path)[0])


# -- isolation ---------------------------------------------------------------------------------
def test_module_mutations_do_not_leak_into_the_next_cell(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    first = """
        import json, pandas as pd
        json.foo = 1
        pd.options.display.max_rows = 3
        leaked = "value"
    """
    assert executor.run(make_job(tmp_path, first)).status == "ok"
    second = """
        import json, pandas as pd
        (hasattr(json, "foo"), pd.options.display.max_rows, "leaked" in globals())
    """
    result = executor.run(make_job(tmp_path, second))
    assert result.displays == [{"text/plain": "(False, 60, False)"}]


def test_env_and_cwd_apply_to_one_cell_only(executor: LocalExecutor, tmp_path: Path) -> None:
    source = "import os\n(os.environ.get('STRATA_TEST_VAR'), os.getcwd())\n"
    job = make_job(tmp_path, source, env={"STRATA_TEST_VAR": "set"})
    assert executor.run(job).displays[0]["text/plain"] == repr(("set", str(tmp_path)))
    after = executor.run(make_job(tmp_path, "import os\nos.environ.get('STRATA_TEST_VAR')\n"))
    assert after.displays == []


def test_helper_modules_beside_the_notebook_import(executor: LocalExecutor, tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("ANSWER = 42\n")
    result = executor.run(make_job(tmp_path, "import helpers\nhelpers.ANSWER\n"))
    assert result.displays == [{"text/plain": "42"}]


def test_cells_see_display_markdown_and_their_module_name(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    source = "def f(): pass\n(f.__module__, __name__, callable(display), Markdown.__name__)\n"
    result = executor.run(make_job(tmp_path, source))
    expected = ("__strata_cell__", "__strata_cell__", True, "Markdown")
    assert result.displays == [{"text/plain": repr(expected)}]


def test_each_cell_draws_fresh_random_numbers(executor: LocalExecutor, tmp_path: Path) -> None:
    source = "import random, numpy\n(random.random(), float(numpy.random.random()))\n"
    draws = [executor.run(make_job(tmp_path, source)).displays[0]["text/plain"] for _ in range(2)]
    first, second = (eval(d) for d in draws)
    assert first[0] != second[0] and first[1] != second[1]  # forks do not share RNG state


def test_files_left_open_are_flushed(executor: LocalExecutor, tmp_path: Path) -> None:
    source = "log = open('out.txt', 'w')\nlog.write('kept')\n"
    assert executor.run(make_job(tmp_path, source)).status == "ok"
    assert (tmp_path / "out.txt").read_text() == "kept"


def test_cell_functions_work_with_multiprocessing_and_pickle(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    source = """
        import multiprocessing, pickle
        from dataclasses import dataclass

        @dataclass
        class Point:
            x: int

        def square(v):
            return Point(v * v)

        with multiprocessing.get_context("fork").Pool(2) as pool:
            points = pool.map(square, range(4))
        (points, pickle.loads(pickle.dumps(Point(1))))
    """
    result = executor.run(make_job(tmp_path, source))
    assert result.status == "ok", (result.error, result.traceback)
    expected = "([Point(x=0), Point(x=1), Point(x=4), Point(x=9)], Point(x=1))"
    assert result.displays == [{"text/plain": expected}]


def test_top_level_await(executor: LocalExecutor, tmp_path: Path) -> None:
    source = "import asyncio\nawait asyncio.sleep(0)\nx = 5\nx\n"
    assert executor.run(make_job(tmp_path, source)).displays == [{"text/plain": "5"}]


# -- inputs and outputs ------------------------------------------------------------------------
def run_ok(executor: LocalExecutor, job: CellJob) -> CellResult:
    result = executor.run(job)
    assert result.status == "ok", (result.error, result.traceback, result.stderr)
    return result


def test_outputs_round_trip_into_a_downstream_cell(
    executor: LocalExecutor, blobs: BlobStore, tmp_path: Path
) -> None:
    producer = """
        import pandas as pd
        df = pd.DataFrame({"a": [1, 2, 3]})
        scale = 10
        def scaled(frame):
            return frame.a * scale
        class Box:
            def __init__(self, v):
                self.v = v
        box = Box(7)
        _private = 1
    """
    names = ("df", "scale", "scaled", "Box", "box", "pd")
    made = run_ok(executor, make_job(tmp_path, producer, publish=names, required=frozenset(names)))
    assert set(made.outputs) == set(names)
    assert load_value(blobs, made.outputs["scale"]) == 10
    consumer = "int(scaled(df).sum()) + box.v + len(pd.__name__)\n"
    used = run_ok(executor, make_job(tmp_path, consumer, inputs=made.outputs))
    assert used.displays == [{"text/plain": str(60 + 7 + 6)}]


def test_an_unstorable_required_value_fails_the_cell_by_name(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    source = "gen = (i for i in range(3))\n"
    job = make_job(tmp_path, source, publish=["gen"], required=frozenset({"gen"}))
    result = executor.run(job)
    assert result.status == "error"
    assert result.error is not None and "'gen'" in result.error and "generator" in result.error
    assert result.outputs == {}


def test_an_unstorable_value_nobody_reads_is_skipped(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    source = "import threading\nlock = threading.Lock()\nn = 1\n"
    result = run_ok(executor, make_job(tmp_path, source, publish=["lock", "n"]))
    assert set(result.outputs) == {"n"}
    assert result.unstored == {"lock": "_thread.lock"}


def test_a_required_name_the_cell_did_not_define(executor: LocalExecutor, tmp_path: Path) -> None:
    source = "if False:\n    x = 1\n"
    assert run_ok(executor, make_job(tmp_path, source, publish=["x"])).outputs == {}
    result = executor.run(make_job(tmp_path, source, publish=["x"], required=frozenset({"x"})))
    assert result.status == "error"
    assert result.error == "cell did not define 'x', which a downstream cell reads"


def test_an_input_that_fails_to_load_names_the_variable(
    executor: LocalExecutor, blobs: BlobStore, tmp_path: Path
) -> None:
    missing = StoredValue("0" * 32, "json/object", 2)
    good = store_value(blobs, "ok", 1)
    result = executor.run(make_job(tmp_path, "1\n", inputs={"ok": good, "frame": missing}))
    assert result.status == "error"
    assert result.error is not None and result.error.startswith("could not load input 'frame'")
