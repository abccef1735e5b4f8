"""LSP framing over stdio that survives a bad frame.

pygls' own reader trusts `Content-Length`: after one non-numeric value it glues every later
body to the next header and answers nothing again; a value larger than the body swallows the
following frames; a huge one is allocated up front. Here a bad frame is logged and skipped,
and reading resumes at the next `Content-Length: N` header.

Why a header can be found inside a body: `Content-Length: 12` followed by a raw CR LF never
occurs in valid JSON (outside strings there are no letters but true/false/null; inside
strings control characters must be escaped). So when that sequence shows up where a body was
expected, the announced length was wrong and a new frame starts there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

MAX_BODY = 256 * 2**20
"""Bodies announced larger than this are refused unread (a runaway client, not a document)."""
MAX_HEADER_LINE = 8192
CHUNK = 65536
_MARK = b"Content-Length:"
_FRAME_START = re.compile(rb"Content-Length:[ \t]*[0-9]+\r\n")
_OVERLAP = 64
"""A header line `Content-Length: N` split across two reads is found again within this many
bytes of the previous search's end."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BadFrame:
    """A frame that was dropped, and why (for the log)."""

    reason: str


Read = Callable[[int], bytes]
"""Returns what is available (at least one byte, at most n), b"" at end of input."""


class FrameReader:
    """Splits a byte stream into frame bodies. Blocking; runs on its own thread.

    Memory stays proportional to what the client actually sent: an announced length is never
    allocated up front, and skipping to the next frame keeps only a short tail.
    """

    def __init__(self, read: Read) -> None:
        self._read = read
        self._buf = bytearray()
        self._resync = False

    def next(self) -> bytes | BadFrame | None:
        """The next body, a dropped frame, or None at the end of input."""
        if self._resync:
            self._resync = False
            if not self._skip_to_frame():
                return None
        length = self._headers()
        if not isinstance(length, int):
            return length
        return self._body(length)

    def _fill(self) -> bool:
        data = self._read(CHUNK)
        self._buf += data
        return bool(data)

    def _bad(self, reason: str) -> BadFrame:
        self._resync = True
        return BadFrame(reason)

    def _headers(self) -> int | BadFrame | None:
        length: int | None = None
        seen = False
        while True:
            line = self._line()
            if line is None:
                return self._bad(f"header line longer than {MAX_HEADER_LINE} bytes")
            if line == b"":
                return None
            start = _frame_start(line, 1, len(line))
            if start is not None:
                # The rest of a body shorter than announced, glued to the next frame's header.
                self._buf[0:0] = line[start:]
                return BadFrame(f"{start} stray bytes before a header: {_excerpt(line[:start])}")
            text = line.rstrip(b"\r\n")
            if not text:
                if not seen:
                    continue  # stray blank lines between frames carry nothing
                if length is None:
                    return self._bad("headers without Content-Length")
                return length
            seen = True
            name, colon, value = text.partition(b":")
            if not colon:
                return self._bad(f"malformed header line {_excerpt(text)}")
            if name.strip().lower() == b"content-length":
                parsed = _content_length(value.strip())
                if isinstance(parsed, BadFrame):
                    return self._bad(parsed.reason)
                length = parsed

    def _line(self) -> bytes | None:
        """One line with its terminator; b"" at end of input; None when it is too long."""
        searched = 0
        while True:
            end = self._buf.find(b"\n", searched)
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            if len(self._buf) > MAX_HEADER_LINE:
                return None
            searched = len(self._buf)
            if not self._fill():
                return b""

    def _body(self, length: int) -> bytes | BadFrame | None:
        searched = 0
        while True:
            limit = min(len(self._buf), length)
            start = _frame_start(self._buf, max(0, searched - _OVERLAP), limit)
            if start is not None:
                skipped = self._buf[:start]
                del self._buf[:start]
                return BadFrame(
                    f"body ended after {start} of the {length} bytes announced "
                    f"(a new frame started): {_excerpt(bytes(skipped))}"
                )
            if len(self._buf) >= length:
                body = bytes(self._buf[:length])
                del self._buf[:length]
                return body
            searched = len(self._buf)
            if not self._fill():
                return None

    def _skip_to_frame(self) -> bool:
        """Discard input up to the next `Content-Length: N` header; False at end of input."""
        while True:
            start = _frame_start(self._buf, 0, len(self._buf))
            if start is not None:
                del self._buf[:start]
                return True
            del self._buf[:-_OVERLAP]
            if not self._fill():
                return False


def _content_length(value: bytes) -> int | BadFrame:
    # bytes.isdigit is ASCII-only, and the length check keeps int() away from huge inputs.
    if not value.isdigit():
        return BadFrame(f"Content-Length {_excerpt(value)} is not a non-negative integer")
    if len(value) > len(str(MAX_BODY)) or int(value) > MAX_BODY:
        return BadFrame(f"Content-Length {_excerpt(value)} exceeds the {MAX_BODY}-byte limit")
    return int(value)


def _frame_start(buf: bytes | bytearray, start: int, limit: int) -> int | None:
    """The first position in [start, limit) where a `Content-Length: N` header line begins."""
    while True:
        found = buf.find(_MARK, start, min(len(buf), limit + len(_MARK) - 1))
        if found < 0:
            return None
        if _FRAME_START.match(buf, found):
            return found
        start = found + 1


def _excerpt(data: bytes, size: int = 80) -> str:
    text = repr(data[:size])
    return text + ("..." if len(data) > size else "")


def serve(server: LanguageServer, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Serve `server` until `exit` or the end of input; returns the process exit code."""
    server._stop_event = stop = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))
    reader = FrameReader(_reader(stdin))
    try:
        asyncio.run(_loop(server, reader, stop))
    except BrokenPipeError:
        log.error("the connection to the client is lost; shutting down")
        return 1
    except SystemExit as exc:  # the `exit` notification: 0 after `shutdown`, else 1
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        return 130
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]  # pygls leaves it unannotated
    return 0


def _reader(stdin: BinaryIO) -> Read:
    # The file descriptor, not the buffered object: a daemon thread blocked inside
    # BufferedReader.read1 holds its lock, and the interpreter aborts on it at exit.
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):
        read1: Read = getattr(stdin, "read1", stdin.read)
        return read1
    return lambda n: os.read(fd, n)


async def _loop(server: LanguageServer, reader: FrameReader, stop: threading.Event) -> None:
    frames: asyncio.Queue[bytes | BadFrame | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    # A daemon thread, not an executor: a read blocked on stdin must never hold up the exit.
    threading.Thread(
        target=_pump, args=(reader, loop, frames), name="strata-stdin", daemon=True
    ).start()
    while not stop.is_set():
        frame = await frames.get()
        if frame is None:
            break
        if isinstance(frame, BadFrame):
            log.error("dropped a malformed LSP frame (%s); reading on", frame.reason)
            continue
        _handle(server, frame)


def _pump(
    reader: FrameReader,
    loop: asyncio.AbstractEventLoop,
    frames: asyncio.Queue[bytes | BadFrame | None],
) -> None:
    frame: bytes | BadFrame | None = None
    try:
        while True:
            try:
                frame = reader.next()
            except Exception:
                log.exception("reading from the client failed; shutting down")
                frame = None
            loop.call_soon_threadsafe(frames.put_nowait, frame)
            if frame is None:
                return
    except RuntimeError:
        return  # the loop is closed: the server already stopped


def _handle(server: LanguageServer, body: bytes) -> None:
    protocol = server.protocol
    try:
        message = json.loads(body, object_hook=protocol.structure_message)
    except ValueError as exc:
        log.error("dropped an LSP frame whose body is not JSON (%s): %s", exc, _excerpt(body))
        return
    try:
        protocol.handle_message(message)
    except Exception as exc:
        log.exception("unable to handle message")
        server._report_server_error(exc, JsonRpcException)
