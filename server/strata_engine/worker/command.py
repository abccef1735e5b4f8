"""`strata worker`: arguments and the serve loop (the CLI only wires these in)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType

DEFAULT_PORT = 8765
_MIB = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (printed)"
    )
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        help="require 'Authorization: Bearer $VAR' on /v1/execute (never the token itself)",
    )
    parser.add_argument(
        "--max-request-mb", type=_positive_mib, default=1024 * _MIB, dest="max_request_bytes"
    )
    parser.add_argument(
        "--max-part-mb", type=_positive_mib, default=1024 * _MIB, dest="max_part_bytes"
    )


def _positive_mib(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of MiB") from None
    if not 0 < value <= 1024 * 1024:
        raise argparse.ArgumentTypeError(f"{text!r} must be in (0, 1048576] MiB")
    return max(1, int(value * _MIB))


def serve(args: argparse.Namespace) -> int:
    # Imported here: building the CLI's parser must not load the executor for `strata run`.
    from strata_engine.worker.http import WorkerConfig, WorkerServer

    token: str | None = None
    if args.token_env:
        # Taken out of the environment: cells run in children of this process and have no
        # business reading the worker's own credential.
        token = os.environ.pop(args.token_env, None) or None
        if token is None:
            print(
                f"strata worker: --token-env {args.token_env}: that variable is not set; "
                "refusing to start without the token it names",
                file=sys.stderr,
            )
            return 2
    config = WorkerConfig(
        token=token,
        max_request_bytes=args.max_request_bytes,
        max_part_bytes=args.max_part_bytes,
    )
    try:
        server = WorkerServer((args.host, args.port), config)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = f"{args.host}:{args.port}"
        print(f"strata worker: cannot listen on {where} ({reason})", file=sys.stderr)
        return 2
    # SIGTERM (a service manager, a test's terminate()) stops like Ctrl-C: the running cell is
    # killed and the scratch directory removed.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"strata worker listening on {server.url}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt
