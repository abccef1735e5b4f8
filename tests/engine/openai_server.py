"""A real OpenAI-compatible chat-completions server on loopback, for prompt-cell tests.

`ThreadingHTTPServer` on 127.0.0.1 with port 0 speaks `POST /v1/chat/completions`: plain JSON
responses and SSE streaming (`"stream": true`, with a usage chunk when `stream_options`
asks for it). Each test scripts its replies (`server.by_model[name]` answers requests for that
model; otherwise the next of `server.script(Reply(...), ...)`, or `server.default` when the
script is empty), including error statuses with `Retry-After`,
and reads `server.requests` to assert what and how much was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

GATE_TIMEOUT = 30.0


@dataclass
class Reply:
    content: str = "ok"
    chunks: list[str] | None = None
    """How a streamed answer is split (default: one chunk per word)."""
    usage: tuple[int, int] = (11, 7)
    """(prompt_tokens, completion_tokens)."""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "scripted failure"
    gate: threading.Event | None = None
    """Streaming: after the first chunk, wait for this event before sending the rest."""
    gate_released: bool | None = None
    """Set by the server: True when `gate` was set, False when waiting for it timed out."""

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return self.chunks
        words = self.content.split(" ")
        return [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = self.body["messages"]
        return messages

    @property
    def user_text(self) -> str:
        return "\n".join(m["content"] for m in self.messages if m["role"] == "user")


class OpenAIServer:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.default = Reply()
        self.by_model: dict[str, Reply] = {}
        """Replies by the request's model, before the script (cells may run concurrently)."""
        self.respond: Callable[[Request], Reply | None] | None = None
        """Asked first: a reply chosen from the request itself, or None to fall through."""
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host!s}:{port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def next_reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            chosen = self.respond(request) if self.respond is not None else None
            if chosen is not None:
                return chosen
            model = request.body.get("model")
            if isinstance(model, str) and model in self.by_model:
                return self.by_model[model]
            return self._script.pop(0) if self._script else self.default

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.next_reply(Request(self.path, headers, body))
            if not self.path.endswith("/chat/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}"}})
            elif reply.status != 200:
                self._json(reply.status, {"error": {"message": reply.error}}, reply.headers)
            elif body.get("stream"):
                self._stream(reply, body)
            else:
                self._json(200, _completion(reply, body))

        def _json(
            self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()  # HTTP/1.0: the body ends when the connection closes
            model = body.get("model", "")
            for index, piece in enumerate(reply.pieces()):
                self._event(_chunk(model, {"content": piece}, None))
                if index == 0 and reply.gate is not None:
                    reply.gate_released = reply.gate.wait(GATE_TIMEOUT)
            self._event(_chunk(model, {}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = _chunk(model, None, None)
                usage["usage"] = _usage(reply)
                self._event(usage)
            self.wfile.write(b"data: [DONE]\n\n")

        def _event(self, payload: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
            self.wfile.flush()

    return Handler


def _usage(reply: Reply) -> dict[str, int]:
    prompt, completion = reply.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunk(model: str, delta: dict[str, str] | None, finish: str | None) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": choices,
    }


def _completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(reply),
    }


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer()
    try:
        yield server
    finally:
        server.close()
