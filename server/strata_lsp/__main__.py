"""`python -m strata_lsp`: the Strata language server on stdin/stdout."""

from __future__ import annotations

import logging
import sys


def main() -> int:
    # stdout carries the protocol: logs go to stderr (the editor shows it as the server log).
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    from .server import StrataServer

    return StrataServer().start_io()


if __name__ == "__main__":
    raise SystemExit(main())
