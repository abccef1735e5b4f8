"""The execution machinery's pure parts: framing, bounded capture, mime bundles, exit text.

No processes are forked here; test_execution.py drives the real executor.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strata_engine.backends.local import capture, display, harness, outcome, protocol
from strata_engine.backends.local.supervisor import ProcessReport

SERVER = Path(__file__).resolve().parents[2] / "server"


# -- protocol ---------------------------------------------------------------------------------
def test_messages_carry_descriptors_and_stay_framed() -> None:
    left, right = socket.socketpair()
    read_end, write_end = os.pipe()
    try:
        protocol.send_message(left, {"op": "run", "job": {"source": "x\n" * 10_000}}, [write_end])
        protocol.send_message(left, {"op": "ping"})
        message, fds = protocol.recv_message(right) or ({}, [])
        assert message["job"]["source"] == "x\n" * 10_000
        assert len(fds) == 1
        os.write(fds[0], b"through the passed descriptor")
        os.close(fds[0])
        assert os.read(read_end, 100) == b"through the passed descriptor"
        assert protocol.recv_message(right) == ({"op": "ping"}, [])
        left.close()
        assert protocol.recv_message(right) is None  # clean end of stream
    finally:
        for fd in (read_end, write_end):
            os.close(fd)
        right.close()


def test_received_descriptors_are_not_inherited_by_programs() -> None:
    left, right = socket.socketpair()
    read_end, write_end = os.pipe()
    with left, right:
        protocol.send_message(left, {}, [write_end])
        _message, fds = protocol.recv_message(right) or ({}, [])
        assert not os.get_inheritable(fds[0])
        for fd in (*fds, read_end, write_end):
            os.close(fd)


def test_a_message_cut_short_is_an_error_not_a_message() -> None:
    left, right = socket.socketpair()
    with right:
        left.sendall(b"\x00\x00\x00\x10\x00{")  # header promises 16 bytes, 1 arrives
        left.close()
        with pytest.raises(ConnectionError):
            protocol.recv_message(right)


def test_record_reader_only_returns_complete_records() -> None:
    reader = protocol.RecordReader()
    data = protocol.encode_record({"display": {"text/plain": "a\nb"}}) + b'{"result": {"st'
    assert reader.feed(data[:5]) == []
    assert reader.feed(data[5:]) == [{"display": {"text/plain": "a\nb"}}]
    assert reader.feed(b'atus": "ok"}}\n') == [{"result": {"status": "ok"}}]
    assert reader.feed(b'{"gar{"bled\n{"exit": 3}\n') == [{"exit": 3}]


# -- bounded capture ---------------------------------------------------------------------------
def test_capture_keeps_the_head_and_marks_what_it_dropped() -> None:
    text = capture.BoundedText(limit=10)
    streamed = [text.feed(b"0123456789abc"), text.feed(b"x" * 12_300_000), text.finish()]
    assert text.text() == "0123456789\n[... 12.3 MB truncated]"
    assert "".join(streamed) == text.text()
    assert text.dropped == 12_300_003


def test_capture_does_not_split_a_character_across_reads() -> None:
    text = capture.BoundedText()
    encoded = "héllo wörld".encode()
    chunks = [text.feed(encoded[i : i + 1]) for i in range(len(encoded))]
    chunks.append(text.finish())
    assert "".join(chunks) == text.text() == "héllo wörld"


@given(
    chunks=st.lists(st.binary(max_size=40), max_size=20),
    limit=st.integers(min_value=0, max_value=100),
)
def test_streamed_chunks_always_add_up_to_the_captured_text(
    chunks: list[bytes], limit: int
) -> None:
    text = capture.BoundedText(limit)
    streamed = "".join(text.feed(chunk) for chunk in chunks) + text.finish()
    assert streamed == text.text()
    total = b"".join(chunks)
    assert text.dropped == max(0, len(total) - limit)
    if len(total) <= limit:
        assert text.text() == total.decode("utf-8", "replace")


def test_human_sizes() -> None:
    assert capture.human_size(12) == "12 bytes"
    assert capture.human_size(12_345) == "12.3 kB"
    assert capture.human_size(3_200_000_000) == "3.2 GB"


# -- mime bundles -----------------------------------------------------------------------------
class _Rich:
    def _repr_html_(self) -> str:
        return "<b>rich</b>"

    def _repr_png_(self) -> bytes:
        return b"\x89PNG fake"

    def __repr__(self) -> str:
        return "Rich()"


class _Broken:
    def _repr_html_(self) -> str:
        raise RuntimeError("boom")


def test_bundles_hold_plain_text_and_every_rich_representation() -> None:
    bundle = display.mime_bundle(_Rich())
    assert bundle["text/plain"] == "Rich()"
    assert bundle["text/html"] == "<b>rich</b>"
    assert base64.b64decode(bundle["image/png"]) == b"\x89PNG fake"
    assert display.mime_bundle(3) == {"text/plain": "3"}


def test_a_broken_representation_leaves_plain_text() -> None:
    bundle = display.mime_bundle(_Broken())
    assert list(bundle) == ["text/plain"]


def test_a_class_is_shown_by_its_repr_not_by_calling_unbound_methods() -> None:
    assert list(display.mime_bundle(_Rich)) == ["text/plain"]


def test_markdown_renders_and_falls_back_to_its_source() -> None:
    bundle = display.mime_bundle(display.Markdown("# Title"))
    assert bundle == {"text/plain": "# Title", "text/markdown": "# Title"}


def test_huge_text_is_bounded() -> None:
    bundle = display.mime_bundle("x" * (display.MAX_TEXT * 2))
    assert len(bundle["text/plain"]) < display.MAX_TEXT + 100
    assert bundle["text/plain"].endswith("characters truncated]")


def test_a_large_dataframe_is_a_bounded_preview_with_its_size() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({f"c{i}": range(100_000) for i in range(40)})
    bundle = display.mime_bundle(frame)
    assert "100,000 rows × 40 columns" in bundle["text/html"]
    assert bundle["text/html"].count("<tr") <= display.PREVIEW_ROWS + 2
    assert "100,000 rows × 40 columns" in bundle["text/plain"]
    small = display.mime_bundle(pd.DataFrame({"a": [1, 2]}))
    assert "<table" in small["text/html"]
    assert "rows ×" not in small["text/html"]


def test_a_large_series_preview_is_bounded_too() -> None:
    pd = pytest.importorskip("pandas")
    bundle = display.mime_bundle(pd.Series(range(10_000), name="n"))
    assert "10,000 rows × 1 columns" in bundle["text/plain"]
    assert bundle["text/plain"].count("\n") < display.PREVIEW_ROWS + 10


# -- harness helpers ---------------------------------------------------------------------------
def test_the_trailing_expression_is_compiled_apart() -> None:
    body, last = harness.compile_cell("x = 1\nx + 1\n", "cells/a.py")
    namespace: dict[str, object] = {}
    exec(body, namespace)
    assert last is not None and eval(last, namespace) == 2
    assert harness.compile_cell("x = 1\n", "cells/a.py")[1] is None


def test_cell_code_does_not_inherit_the_harness_future_imports() -> None:
    body, _last = harness.compile_cell("def f(x: int): pass\n", "cells/a.py")
    namespace: dict[str, object] = {}
    exec(body, namespace)
    function = namespace["f"]
    assert function.__annotations__ == {"x": int}


def test_exceptions_are_described_in_one_line() -> None:
    assert harness.describe_exception(ZeroDivisionError("division by zero")) == (
        "ZeroDivisionError: division by zero"
    )
    assert harness.describe_exception(KeyError("k")) == "KeyError: 'k'"
    assert harness.describe_exception(ValueError("two\nlines")) == "ValueError: two"
    assert harness.describe_exception(StopIteration()) == "StopIteration"


# -- outcome text ------------------------------------------------------------------------------
def _wait_status(*, code: int = 0, sig: int | None = None) -> int:
    """A real wait status, from a real child (the encoding is the kernel's business)."""
    script = f"kill -{sig} $$" if sig else f"exit {code}"
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", script], os.environ)
    return os.waitpid(pid, 0)[1]


def test_exit_statuses_become_sentences() -> None:
    assert outcome.describe_exit(_wait_status(code=3)) == (
        "cell process exited with code 3 before finishing"
    )
    assert outcome.describe_exit(_wait_status(sig=signal.SIGSEGV)) == (
        "cell process died: segmentation fault (SIGSEGV)"
    )
    assert outcome.describe_exit(_wait_status(sig=signal.SIGKILL)).startswith(
        "cell process died: killed (SIGKILL)"
    )


def test_failure_reasons_in_priority_order() -> None:
    def reason(**flags: object) -> str:
        return outcome.failure_reason(ProcessReport(**flags), 2.0, 120.0, "")  # type: ignore[arg-type]

    assert reason(cancelled=True, timed_out=True) == "cancelled"
    assert reason(timed_out=True, exit_called=3) == "cell timed out after 2s"
    assert reason(exit_called=3, wait_status=3 << 8) == "cell called os._exit(3)"
    assert reason(zygote_lost=True, started=True).startswith("the Python worker process died")


# -- import cost -------------------------------------------------------------------------------
def test_importing_the_executor_imports_nothing_heavy() -> None:
    heavy = ("pandas", "pyarrow", "numpy", "matplotlib", "cloudpickle")
    code = (
        "import sys, strata_engine.backends.local\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(SERVER)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""


def test_a_figure_that_cannot_render_says_so_instead_of_failing() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    class Broken(Figure):
        __module__ = "matplotlib.figure"

        def savefig(self, *_args: object, **_kwargs: object) -> None:
            raise ValueError("bad data")

    bundle = display.mime_bundle(Broken())
    assert "image/png" not in bundle
    assert "could not be rendered: ValueError: bad data" in bundle["text/plain"]
