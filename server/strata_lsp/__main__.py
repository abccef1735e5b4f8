"""`python -m strata_lsp`: the Strata language server on stdin/stdout."""

from __future__ import annotations

import logging
import sys


def main() -> int:
    # stdout carries the protocol: logs go to stderr (the editor shows it as the server log).
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    # The pause-time full refresh runs in a thread (notebooks.py): a keystroke arriving
    # meanwhile gets the interpreter within 1 ms instead of the default 5 ms, each time
    # its handling needs it back.
    sys.setswitchinterval(0.001)
    from .server import StrataServer

    return StrataServer().start_io()


if __name__ == "__main__":
    raise SystemExit(main())
