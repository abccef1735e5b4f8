"""Embedded R for the cell process: imported (so R is initialized) once in the zygote when a
notebook has R cells, else in the cell's own fork. Never imported by the engine itself.

Initializing R costs about a second; R survives fork (R's own `parallel::mcfork` forks an
initialized R), so each cell's fork starts with R warm. The R side of running a cell lives
here as R functions: `.strata_run` evaluates the cell expression by expression like R's
console (visible values are printed), turns warnings and messages into stderr text as they
happen, and returns an R error with its message and line instead of raising.
"""

from __future__ import annotations

import os
import sys
from typing import Any

os.environ.setdefault("R_LIBS_USER", os.devnull)  # only the system's (Debian's) packages

import rpy2.rinterface as ri  # type: ignore[import-untyped]
import rpy2.rinterface_lib.callbacks as callbacks  # type: ignore[import-untyped]
from rpy2.rinterface_lib import embedded

# Evaluated once. `.strata_line` finds the innermost call made from the cell's own source
# (an error inside a function the cell defined names that function's line).
_R_SOURCE = r"""
.strata_line <- function(filename, fallback) {
  for (call in rev(sys.calls())) {
    ref <- attr(call, "srcref")
    if (!is.null(ref) && identical(attr(ref, "srcfile")$filename, filename)) return(ref[[1L]])
  }
  fallback
}
.strata_run <- function(src, filename, plots) {
  grDevices::png(filename = plots, width = 7, height = 5, units = "in", res = 96,
                 type = "cairo")
  on.exit(grDevices::graphics.off())
  srcfile <- srcfilecopy(filename, strsplit(src, "\n", fixed = TRUE)[[1L]])
  exprs <- tryCatch(parse(text = src, keep.source = TRUE, srcfile = srcfile),
                    error = function(e) e)
  if (inherits(exprs, "error")) return(list(error = conditionMessage(exprs), line = NA))
  refs <- attr(exprs, "srcref")
  for (i in seq_along(exprs)) {
    line <- refs[[i]][[1L]]
    where <- line
    outcome <- tryCatch(withCallingHandlers({
        res <- withVisible(eval(exprs[[i]], envir = globalenv()))
        if (res$visible) print(res$value)
        NULL
      },
      warning = function(w) {
        cat("Warning message (line ", .strata_line(filename, line), "):\n",
            conditionMessage(w), "\n", sep = "", file = stderr())
        invokeRestart("muffleWarning")
      },
      message = function(m) {
        cat(conditionMessage(m), file = stderr())
        invokeRestart("muffleMessage")
      },
      error = function(e) where <<- .strata_line(filename, line)),
      error = function(e) e)
    if (inherits(outcome, "error")) {
      call <- conditionCall(outcome)
      text <- if (is.null(call)) "" else paste(deparse(call, nlines = 1L), collapse = "")
      return(list(error = conditionMessage(outcome), line = where, call = text))
    }
  }
  list()
}
"""


def _write_out(text: str) -> None:
    sys.stdout.write(text)


def _write_err(text: str) -> None:
    sys.stderr.write(text)


def start() -> Any:
    """R, initialized once per process, with its console wired to this process's streams
    (fds 1 and 2 in a cell: the engine's pipes)."""
    callbacks.consolewrite_print = _write_out
    callbacks.consolewrite_warnerror = _write_err
    callbacks.showmessage = _write_err
    if not embedded.isinitialized():
        ri.initr()
        # On the search path, not in the global environment: cells start with an empty one.
        helpers = ri.baseenv["attach"](ri.NULL, name="strata")
        ri.baseenv["eval"](ri.parse(_R_SOURCE), helpers)
    return ri


start()
