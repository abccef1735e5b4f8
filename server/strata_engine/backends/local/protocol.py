"""Framing for the two channels of the execution machinery (standard library only).

Control channel (engine <-> zygote, a Unix stream socket): each message is a 5-byte header
(payload length, descriptor count) followed by a JSON object. The header travels in its own
sendmsg() call carrying the descriptors as SCM_RIGHTS, and the receiver reads exactly those
5 bytes with recvmsg(), so the kernel hands the descriptors over with the header they belong
to and never merges them into a neighbouring message.

Result channel (cell process -> engine, a pipe): newline-delimited JSON records. json.dumps
escapes newlines inside strings, so a newline always ends a record, and a record cut short by
a crash has no newline and is ignored instead of being misread.
"""

from __future__ import annotations

import array
import json
import os
import socket
import struct
from collections.abc import Mapping, Sequence
from typing import Any

Message = dict[str, Any]

_HEADER = struct.Struct("!IB")
MAX_FDS = 8


def send_message(sock: socket.socket, message: Mapping[str, Any], fds: Sequence[int] = ()) -> None:
    """Send one message; `fds` are duplicated into the receiving process."""
    if len(fds) > MAX_FDS:
        raise ValueError(f"at most {MAX_FDS} descriptors per message")
    payload = json.dumps(message, separators=(",", ":")).encode("utf-8")
    header = _HEADER.pack(len(payload), len(fds))
    if fds:
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sent = sock.sendmsg([header], ancillary)
        # A 5-byte sendmsg on a blocking stream socket is all or nothing in practice; anything
        # else would desynchronise the stream, so fail loudly rather than limp on.
        if sent != len(header):
            raise ConnectionError("short write of a control header")
    else:
        sock.sendall(header)
    sock.sendall(payload)


def recv_message(sock: socket.socket) -> tuple[Message, list[int]] | None:
    """Receive one message and its descriptors; None when the peer closed the connection."""
    header = b""
    fds: list[int] = []
    while len(header) < _HEADER.size:
        data, received = _recv_with_fds(sock, _HEADER.size - len(header))
        fds.extend(received)
        if not data:
            if header or fds:
                _close_all(fds)
                raise ConnectionError("control connection closed inside a message header")
            return None
        header += data
    length, count = _HEADER.unpack(header)
    if count != len(fds):
        _close_all(fds)
        raise ConnectionError(f"expected {count} descriptors, received {len(fds)}")
    payload = _recv_exact(sock, length)
    message = json.loads(payload)
    if not isinstance(message, dict):
        _close_all(fds)
        raise ConnectionError("control message is not a JSON object")
    return message, fds


def _recv_with_fds(sock: socket.socket, size: int) -> tuple[bytes, list[int]]:
    fds = array.array("i")
    # MSG_CMSG_CLOEXEC: received descriptors must not leak into programs a cell executes.
    data, ancillary, _flags, _addr = sock.recvmsg(
        size, socket.CMSG_SPACE(MAX_FDS * fds.itemsize), socket.MSG_CMSG_CLOEXEC
    )
    for level, kind, blob in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(blob[: len(blob) - len(blob) % fds.itemsize])
    return data, list(fds)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("control connection closed inside a message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        os.close(fd)


def encode_record(record: Mapping[str, Any]) -> bytes:
    """One result-channel record: compact JSON and the terminating newline."""
    return json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n"


def write_all(fd: int, data: bytes) -> None:
    """os.write until everything is written (a pipe may accept less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class RecordReader:
    """Splits the bytes of a result channel into complete records."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._pending += data
        records: list[Message] = []
        while (end := self._pending.find(b"\n")) >= 0:
            line = bytes(self._pending[:end])
            del self._pending[: end + 1]
            try:
                record = json.loads(line)
            except ValueError:
                # Only a process the cell forked, writing at the same time, can garble a
                # line; losing that record beats failing the whole run.
                continue
            if isinstance(record, dict):
                records.append(record)
        return records
