"""Malformed LSP frames: the server logs each one, skips to the next `Content-Length` header
and keeps answering (`shutdown` included).

Raw bytes over pipes to a real `python -m strata_lsp`. Every read is bounded by GUARD_S, so
a wedged server fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from strata_lsp.transport import MAX_BODY, BadFrame, FrameReader

GUARD_S = 30.0
"""How long a read may wait before the test fails (a wedged server), never a synchronization."""
STATE = {"jsonrpc": "2.0", "id": 2, "method": "strata/state", "params": {}}


def frame(message: dict[str, Any], length: int | None = None) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body


class RawServer:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.notifications: list[dict[str, Any]] = []
        self.responses: dict[int, dict[str, Any]] = {}
        self._stderr = asyncio.ensure_future(self._drain_stderr())
        self.stderr = b""

    async def _drain_stderr(self) -> None:
        # Drained all along so that logging can never fill the pipe and block the server.
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self.stderr += chunk

    async def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def _message(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = None
        while (line := await self.process.stdout.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        assert length is not None, "the server closed its output"
        message: dict[str, Any] = json.loads(await self.process.stdout.readexactly(length))
        return message

    async def _until(self, found: Callable[[], Any]) -> Any:
        while (result := found()) is None:
            message = await asyncio.wait_for(self._message(), GUARD_S)
            if "method" in message and "id" not in message:
                self.notifications.append(message)
            elif "method" not in message:
                self.responses[message["id"]] = message
        return result

    async def response(self, request_id: int) -> dict[str, Any]:
        """The response to `request_id`; other messages met on the way are kept."""
        result: dict[str, Any] = await self._until(lambda: self.responses.get(request_id))
        return result

    async def logged(self, text: str) -> str:
        """The first window/logMessage containing `text` (waiting for it if need be)."""

        def find() -> str | None:
            messages = [
                n["params"]["message"]
                for n in self.notifications
                if n["method"] == "window/logMessage"
            ]
            return next((m for m in messages if text in m), None)

        result: str = await self._until(find)
        return result

    async def exit(self) -> int:
        await self.send(frame({"jsonrpc": "2.0", "method": "exit"}))
        code = await asyncio.wait_for(self.process.wait(), GUARD_S)
        await asyncio.wait_for(self._stderr, GUARD_S)
        return code


@pytest_asyncio.fixture
async def raw() -> AsyncIterator[RawServer]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "strata_lsp",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    server = RawServer(process)
    try:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}
        await server.send(frame(init))
        assert "capabilities" in (await server.response(1))["result"]
        await server.send(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        yield server
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def shutdown_is_answered(raw: RawServer) -> None:
    await raw.send(frame({"jsonrpc": "2.0", "id": 9, "method": "shutdown"}))
    assert (await raw.response(9))["result"] is None
    assert await raw.exit() == 0


BAD_FRAMES = {
    "non-numeric": b"Content-Length: abc\r\n\r\n" + json.dumps(STATE).encode(),
    "too large": frame(STATE, len(json.dumps(STATE)) + 500),
    "too small": frame(STATE, 10),
    "negative": b"Content-Length: -5\r\n\r\n" + json.dumps(STATE).encode(),
    "huge": b"Content-Length: 99999999999999999999\r\n\r\n" + json.dumps(STATE).encode(),
    "no length": b"Content-Type: x\r\n\r\n" + json.dumps(STATE).encode(),
    "endless header": b"X" * 20000,
}


@pytest.mark.asyncio
async def test_after_each_malformed_frame_the_next_one_is_answered(raw: RawServer) -> None:
    for request_id, (name, bad) in enumerate(BAD_FRAMES.items(), start=100):
        await raw.send(bad)
        request = {"jsonrpc": "2.0", "id": request_id, "method": "strata/state", "params": {}}
        await raw.send(frame(request))
        answer = await raw.response(request_id)
        assert answer["error"]["code"] == -32602, name  # answered: no notebook was given
    assert "LSP frame" in await raw.logged("dropped")
    await shutdown_is_answered(raw)
    for reason in (b"not a non-negative integer", b"announced", b"exceeds", b"not JSON"):
        assert reason in raw.stderr


@pytest.mark.asyncio
async def test_a_huge_content_length_allocates_nothing(raw: RawServer) -> None:
    await raw.send(b"Content-Length: %d\r\n\r\n{}" % (MAX_BODY - 1))
    await raw.send(frame({"jsonrpc": "2.0", "id": 3, "method": "strata/state", "params": {}}))
    assert (await raw.response(3))["error"]["code"] == -32602
    status = Path(f"/proc/{raw.process.pid}/status")
    if status.exists():
        peak_kb = next(
            int(line.split()[1])
            for line in status.read_text().splitlines()
            if line.startswith("VmHWM:")
        )
        assert peak_kb < MAX_BODY // 1024 // 2
    await shutdown_is_answered(raw)


@pytest.mark.asyncio
async def test_a_header_quoted_inside_a_body_is_not_a_frame(raw: RawServer) -> None:
    quoted = "Content-Length: 12\r\n\r\n{}"
    params = {"notebook": quoted, "note": "Content-Length: 5"}
    await raw.send(frame({"jsonrpc": "2.0", "id": 3, "method": "strata/state", "params": params}))
    answer = await raw.response(3)
    assert quoted in answer["error"]["message"]  # the body arrived whole
    await shutdown_is_answered(raw)
    assert not [n for n in raw.notifications if n["method"] == "window/logMessage"]


@pytest.mark.asyncio
async def test_end_of_input_after_a_bad_frame_ends_the_server(raw: RawServer) -> None:
    await raw.send(b"Content-Length: abc\r\n\r\n{")
    assert raw.process.stdin is not None
    raw.process.stdin.close()
    assert await asyncio.wait_for(raw.process.wait(), GUARD_S) == 0


# -- FrameReader on its own: chunk boundaries anywhere ----------------------------------------


def reader_over(data: bytes, chunk: int) -> FrameReader:
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]

    def read(n: int) -> bytes:
        return chunks.pop(0) if chunks else b""

    return FrameReader(read)


def frames_of(reader: FrameReader) -> list[bytes | BadFrame]:
    out: list[bytes | BadFrame] = []
    while (item := reader.next()) is not None:
        out.append(item)
    return out


@pytest.mark.parametrize("chunk", [1, 2, 7, 23, 65536])
def test_frames_split_anywhere_are_read_whole(chunk: int) -> None:
    messages = [{"id": i, "text": "Content-Length: 5\r\n" * i} for i in range(4)]
    data = b"\r\n" + b"".join(frame(m) for m in messages)
    bodies = frames_of(reader_over(data, chunk))
    assert [json.loads(b) for b in bodies if isinstance(b, bytes)] == messages
    assert not any(isinstance(b, BadFrame) for b in bodies)


@pytest.mark.parametrize("chunk", [1, 5, 65536])
@pytest.mark.parametrize("bad", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_after_any_bad_frame_the_next_good_one_is_read(bad: bytes, chunk: int) -> None:
    good = {"jsonrpc": "2.0", "id": 9, "method": "shutdown"}
    items = frames_of(reader_over(bad + frame(good) + frame(good), chunk))
    assert any(isinstance(i, BadFrame) for i in items)
    assert [decoded(i) for i in items][-2:] == [good, good]


def decoded(item: bytes | BadFrame) -> Any:
    """The JSON of a body; None for a dropped frame or a body cut short (the server logs it)."""
    try:
        return json.loads(item) if isinstance(item, bytes) else None
    except ValueError:
        return None
