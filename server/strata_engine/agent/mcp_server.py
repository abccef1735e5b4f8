"""`strata mcp [DIR]`: the agent tools over the Model Context Protocol (the `mcp` SDK's
low-level server). Stdio by default; with --http, streamable HTTP on loopback only, behind a
bearer token read from the environment.

Every tool of the registry is listed with its own input schema, and every call goes through
`call_tool` in a worker thread (runs block), one call at a time: two agents' edits of the same
notebook.toml never interleave.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

TOKEN_ENV = "STRATA_MCP_TOKEN"
LOOPBACK = "127.0.0.1"
_INSTRUCTIONS = (
    "Strata notebooks: directories of cells whose outputs are cached by content. Start with "
    "list_notebooks and get_notebook. run_snippet is a cached scratchpad: the same snippet "
    "with the same inputs costs no execution the second time."
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


def build_server(root: Path, *, allow_run: bool) -> Any:
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server

    from strata_engine.agent.registry import TOOL_SPECS, call_tool

    lock = anyio.Lock()

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_mcp_tool(types, spec) for spec in TOOL_SPECS])

    async def call(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = params.arguments or {}
        async with lock:
            result = await anyio.to_thread.run_sync(
                lambda: call_tool(root, params.name, arguments, allow_run=allow_run)
            )
        return types.CallToolResult(
            content=[types.TextContent(text=result.text)],
            structured_content=result.data,
            is_error=result.is_error,
        )

    return Server(
        "strata",
        instructions=_INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call,
    )


def _mcp_tool(types: Any, spec: Any) -> Any:
    hints = types.ToolAnnotations(
        read_only_hint=not spec.destructive and not spec.runs_code and _reads_only(spec.name),
        destructive_hint=spec.destructive,
    )
    return types.Tool(
        name=spec.name,
        description=spec.description,
        input_schema=spec.input_schema,
        annotations=hints,
    )


def _reads_only(name: str) -> bool:
    return name in {"list_notebooks", "get_notebook", "get_cell", "get_dag", "validate"}


def serve(args: argparse.Namespace) -> int:
    root = Path(args.directory).resolve()
    if not root.is_dir():
        print(f"strata mcp: {args.directory} is not a directory", file=sys.stderr)
        return 2
    from strata_engine.agent.sessions import close_sessions, keep_warm

    keep_warm()  # one warm worker per notebook for the server's lifetime
    try:
        if args.http:
            return _serve_http(root, args)
        import anyio

        anyio.run(_serve_stdio, root, args.allow_run)
        return 0
    finally:
        close_sessions()


async def _serve_stdio(root: Path, allow_run: bool) -> None:
    from mcp.server.stdio import stdio_server

    server = build_server(root, allow_run=allow_run)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def _serve_http(root: Path, args: argparse.Namespace) -> int:
    token = os.environ.pop(TOKEN_ENV, "")  # cells started by this process cannot read it
    if len(token) < 16:
        print(
            f"strata mcp: --http needs a bearer token of at least 16 characters in ${TOKEN_ENV} "
            f"(e.g. export {TOKEN_ENV}=$(python -c 'import secrets; print(secrets.token_hex())'))",
            file=sys.stderr,
        )
        return 2
    import socket

    import uvicorn

    server = build_server(root, allow_run=args.allow_run)
    app = require_token(server.streamable_http_app(host=LOOPBACK), token)
    # Bound (and listening) before the line is printed: a client that waits for the line
    # can connect at once, and --port 0 reports the port it got.
    listener = socket.create_server((LOOPBACK, args.port))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning")
    print(f"strata mcp: serving {root} on http://{LOOPBACK}:{port}/mcp", file=sys.stderr)
    sys.stderr.flush()
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def require_token(app: Asgi, token: str) -> Asgi:
    """Every HTTP request needs `Authorization: Bearer <token>` (compared in constant time);
    lifespan events pass through."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, expected):
                body = json.dumps({"error": "missing or wrong bearer token"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return guarded
