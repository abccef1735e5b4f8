"""R's own parser, asked from a warm helper process: the engine never embeds R.

One `Rscript` per engine process reads sources on stdin and answers, per source, R's
`getParseData()` rows and the deparse of each top-level expression (the normalized body: no
comments, no layout) or the parse error with its line. Nothing is evaluated: the helper only
calls `parse()`. Answers are cached by the source's hash, so the language server's
keystrokes ask R once per distinct text. R missing is an answer too (`RStatus`), never an
exception: R cells are then refused with a diagnostic that says how to install R.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from typing import IO, Any

INSTALL_HINT = "run scripts/setup-r.sh (or apt-get install r-base-core r-cran-jsonlite)"
_CACHE_SIZE = 4096
_HELPER_TIMEOUT = 30.0

# Deparse with every control that keeps two different programs apart ("digits17": the
# default 15 digits would give 0.1234567890123456 and ...457 one key).
_HELPER = r"""
options(warn = -1, keep.source = FALSE)
suppressPackageStartupMessages(library(jsonlite))
ctl <- c("keepNA", "keepInteger", "niceNames", "showAttributes", "digits17")
con <- file("stdin", open = "rb")
cat(toJSON(list(version = R.version.string), auto_unbox = TRUE), "\n", sep = "")
flush(stdout())
answer <- function(src) {
  exprs <- tryCatch(parse(text = src, keep.source = TRUE, encoding = "UTF-8"),
                    error = function(e) e)
  if (inherits(exprs, "error")) {
    return(list(error = conditionMessage(exprs)))
  }
  pd <- getParseData(exprs, includeText = NA)
  if (is.null(pd)) pd <- data.frame(id = integer(), parent = integer(), token = character(),
                                    text = character(), line1 = integer(), col1 = integer(),
                                    line2 = integer(), col2 = integer())
  norm <- vapply(exprs, function(e)
    paste(deparse(e, width.cutoff = 500L, control = ctl), collapse = "\n"), "")
  cols <- c("id", "parent", "token", "text", "line1", "col1", "line2", "col2")
  # I(): a one-row table or a one-expression cell stays an array under auto_unbox.
  list(rows = unname(lapply(pd[, cols], I)), normalized = I(unname(norm)))
}
repeat {
  header <- readLines(con, n = 1L)
  if (length(header) == 0L) break
  n <- as.integer(header)
  src <- if (n > 0L) rawToChar(readBin(con, "raw", n)) else ""
  Encoding(src) <- "UTF-8"
  cat(toJSON(answer(src), auto_unbox = TRUE, digits = NA), "\n", sep = "")
  flush(stdout())
}
"""


@dataclass(frozen=True)
class RStatus:
    """Whether R cells can be analyzed (Rscript) and run (rpy2 in this interpreter)."""

    rscript: str | None
    rpy2: bool

    def problem(self) -> str | None:
        if self.rscript is None:
            return f"R is not installed: {INSTALL_HINT}"
        if not self.rpy2:
            return (
                "rpy2 is not installed in the engine's Python environment: run "
                "scripts/setup-r.sh (or pip install 'strata-vscode-server[r]')"
            )
        return None


@lru_cache(maxsize=1)
def r_status() -> RStatus:
    """Found once per process ($STRATA_RSCRIPT names another Rscript, or a missing one)."""
    wanted = os.environ.get("STRATA_RSCRIPT", "Rscript")
    rscript = shutil.which(wanted)
    return RStatus(rscript, find_spec("rpy2") is not None)


@dataclass(frozen=True)
class ParseRow:
    id: int
    parent: int
    token: str
    text: str
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class ParseResult:
    rows: tuple[ParseRow, ...] = ()
    normalized: tuple[str, ...] = ()
    """R's deparse of each top-level expression."""
    error: str | None = None
    """R's parse error message (it names the line and column), when the source does not parse."""


class RParseError(RuntimeError):
    """The helper could not be started or stopped answering (not a parse error of a cell)."""


class _Helper:
    def __init__(self, rscript: str) -> None:
        self._proc = subprocess.Popen(
            [rscript, "--vanilla", "-e", _HELPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C is the engine's to handle
        )
        self.version = str(self._read().get("version", "R"))

    def ask(self, source: str) -> dict[str, Any]:
        data = source.encode("utf-8")
        stdin = self._pipe(self._proc.stdin)
        stdin.write(f"{len(data)}\n".encode() + data)
        stdin.flush()
        return self._read()

    def _read(self) -> dict[str, Any]:
        line = self._pipe(self._proc.stdout).readline()
        if not line:
            raise RParseError("the R parser helper (Rscript) exited; is jsonlite installed?")
        answer: dict[str, Any] = json.loads(line)
        return answer

    @staticmethod
    def _pipe(pipe: IO[bytes] | None) -> IO[bytes]:
        assert pipe is not None  # both pipes are always requested
        return pipe

    def alive(self) -> bool:
        return self._proc.poll() is None

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=_HELPER_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class RParser:
    """The warm helper plus a bounded cache of answers by source hash. Thread-safe: the
    language server may analyze from several threads."""

    def __init__(self, rscript: str) -> None:
        self._rscript = rscript
        self._lock = threading.Lock()
        self._helper: _Helper | None = None
        self._cache: OrderedDict[str, ParseResult] = OrderedDict()

    def version(self) -> str:
        with self._lock:
            return self._warm().version

    def parse(self, source: str) -> ParseResult:
        digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            hit = self._cache.get(digest)
            if hit is not None:
                self._cache.move_to_end(digest)
                return hit
            result = _result(self._ask(source))
            self._cache[digest] = result
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
            return result

    def _ask(self, source: str) -> dict[str, Any]:
        try:
            return self._warm().ask(source)
        except (OSError, ValueError, RParseError):
            # One retry on a fresh helper: the old one may have died (OOM, killed).
            self._stop()
            return self._warm().ask(source)

    def _warm(self) -> _Helper:
        if self._helper is None or not self._helper.alive():
            self._helper = _Helper(self._rscript)
        return self._helper

    def _stop(self) -> None:
        if self._helper is not None:
            helper, self._helper = self._helper, None
            helper.close()

    def close(self) -> None:
        with self._lock:
            self._stop()


def _result(answer: dict[str, Any]) -> ParseResult:
    if "error" in answer:
        return ParseResult(error=str(answer["error"]))
    columns = answer.get("rows") or [[]] * 8
    rows = tuple(
        ParseRow(int(i), int(p), str(tok), str(txt), int(l1), int(c1), int(l2), int(c2))
        for i, p, tok, txt, l1, c1, l2, c2 in zip(*columns, strict=True)
    )
    return ParseResult(rows=rows, normalized=tuple(str(n) for n in answer.get("normalized", [])))


_parser: RParser | None = None
_parser_lock = threading.Lock()


def shared_parser() -> RParser | None:
    """The process's parser, or None when R is not installed."""
    global _parser
    rscript = r_status().rscript
    if rscript is None:
        return None
    with _parser_lock:
        if _parser is None:
            _parser = RParser(rscript)
        return _parser
