"""A strict multipart/form-data parser over a body already read within the size limit.

Part names and filenames are returned as plain strings for use as dictionary keys; nothing
here (or in its callers) ever turns them into paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

MAX_PARTS = 1000
_MAX_HEADER_BYTES = 16 * 1024


class RequestError(Exception):
    """The request is refused with `status` and a one-line message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    data: bytes


def boundary_of(content_type: str) -> bytes:
    message = Message()
    message["content-type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        raise RequestError(400, f"expected multipart/form-data, got {content_type or 'nothing'!r}")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 200 or not boundary.isascii():
        raise RequestError(400, "multipart/form-data without a valid boundary")
    return boundary.encode("ascii")


def parse_multipart(body: bytes, content_type: str, *, max_part_bytes: int) -> dict[str, Part]:
    """Parts by name; duplicate names, malformed framing and oversized parts are refused."""
    delimiter = b"--" + boundary_of(content_type)
    start = body.find(delimiter)
    if start != 0 and (start < 0 or body[start - 2 : start] != b"\r\n"):
        raise RequestError(400, "multipart body has no opening boundary")
    parts: dict[str, Part] = {}
    position = start + len(delimiter)
    while True:
        if body[position : position + 2] == b"--":
            return parts
        if body[position : position + 2] != b"\r\n":
            raise RequestError(400, "malformed multipart boundary line")
        header_end = body.find(b"\r\n\r\n", position + 2, position + 2 + _MAX_HEADER_BYTES)
        if header_end < 0:
            raise RequestError(400, "multipart part headers are missing or too long")
        content_start = header_end + 4
        content_end = body.find(b"\r\n" + delimiter, content_start)
        if content_end < 0:
            raise RequestError(400, "multipart body ends inside a part (no closing boundary)")
        part = _part(body[position + 2 : header_end], body, content_start, content_end)
        if content_end - content_start > max_part_bytes:
            raise RequestError(
                413, f"part {part.name!r} exceeds the per-part limit of {max_part_bytes} bytes"
            )
        if part.name in parts:
            raise RequestError(400, f"duplicate multipart part {part.name!r}")
        if len(parts) >= MAX_PARTS:
            raise RequestError(400, f"more than {MAX_PARTS} multipart parts")
        parts[part.name] = part
        position = content_end + 2 + len(delimiter)


def _part(raw_headers: bytes, body: bytes, start: int, end: int) -> Part:
    message = Message()
    for line in raw_headers.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep:
            raise RequestError(400, f"malformed multipart header line {line[:80]!r}")
        message[key.strip()] = value.strip()
    disposition = message.get("content-disposition")
    if disposition is None or message.get_content_disposition() != "form-data":
        raise RequestError(400, "multipart part without Content-Disposition: form-data")
    name = message.get_param("name", header="content-disposition")
    filename = message.get_param("filename", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise RequestError(400, "multipart part without a name")
    return Part(name, filename if isinstance(filename, str) else None, body[start:end])
