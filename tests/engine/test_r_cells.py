"""R cells end to end (issue [8]; needs scripts/setup-r.sh): R's own parser for defines and
references (nothing executed), values across Python and R, plots, captured streams, errors
with their line, a crashing R cell, and keys that ignore comments and layout."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from strata_engine.kinds import analyze_cell, kind_for
from strata_engine.run.events import RunReport
from strata_engine.run.session import Session
from strata_engine.store import load_value

pytest.importorskip("rpy2")

PNG = b"\x89PNG\r\n\x1a\n"


def write_nb(root: Path, cells: dict[str, tuple[str, str]]) -> Path:
    """cells: id -> (language, source)."""
    (root / "cells").mkdir(parents=True, exist_ok=True)
    lines = ['notebook_id = "r-test"', 'name = "r test"', ""]
    for order, (cell_id, (language, source)) in enumerate(cells.items(), start=1):
        file = f"{cell_id}{'.R' if language == 'r' else '.py'}"
        (root / "cells" / file).write_text(source)
        lines += ["[[cells]]", f'id = "{cell_id}"', f'file = "{file}"']
        lines += [f'language = "{language}"', f"order = {order}", ""]
    (root / "notebook.toml").write_text("\n".join(lines))
    return root


class _Opener:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.opened: list[Session] = []

    def __call__(self, cells: dict[str, tuple[str, str]]) -> Session:
        return self.open(write_nb(self.tmp_path / "nb", cells))

    def open(self, directory: Path) -> Session:
        s = Session(directory)
        self.opened.append(s)
        return s

    def edit(self, s: Session, file: str, text: str) -> Session:
        """A new session on the notebook after `file` changed (as `strata run` sees it)."""
        (s.notebook.directory / "cells" / file).write_text(text)
        return self.open(s.notebook.directory)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[_Opener]:
    opener = _Opener(tmp_path)
    yield opener
    for s in opener.opened:
        s.close()


def cell(report: RunReport, cell_id: str) -> dict[str, object]:
    return next(c.to_json() for c in report.cells if c.id == cell_id)


def value(s: Session, cell_id: str, name: str) -> object:
    status = s.states()[cell_id]
    assert status.entry is not None, status.state
    return load_value(s.blobs, status.entry.outputs[name])


# -- analysis --------------------------------------------------------------------------------
def test_defines_and_references_come_from_r_parser() -> None:
    text = (
        "# @name model\n"
        "x <- f(df$col, k)  # reads df, k, f; `col` is a field\n"
        '"y" = 2\n'
        "3 -> z\n"
        'assign("w", x + y)\n'
        'assign("not_global", 1, envir = new.env())\n'
        "df2 <- dplyr::filter(df, v > 1)\n"
        "fit <- lm(resp ~ pred, data = df)\n"
        "g <- function(a, b = dflt) { m <- a; m + b + free }\n"
        "for (i in seq_len(n)) { acc <- i }\n"
        "names(frame) <- c('a', 'b')\n"
        ".hidden <- 1\n"
    )
    result = analyze_cell("r", text)
    assert result.defines == ("x", "y", "z", "w", "df2", "fit", "g", "i", "acc", "frame")
    refs = set(result.references)
    assert {"df", "k", "f", "dflt", "free", "n", "frame"} <= refs
    assert not {"col", "resp", "pred", "a", "b", "m", "not_global", "x", "filter"} & refs
    assert result.mutated == ("frame",)
    assert result.reference_span("df") is not None and result.reference_span("df").line == 2


def test_analysis_never_runs_the_cell(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    text = f'writeLines("ran", "{marker}")\nout <- 1\n'
    assert analyze_cell("r", text).defines == ("out",)
    assert not marker.exists()


def test_comments_and_layout_do_not_change_the_key_body() -> None:
    a = analyze_cell("r", "x <- c(1,2)   # one\ny<-x*2\n")
    b = analyze_cell("r", "# a comment\nx <- c(1, 2)\n\n\ny <- x * 2  # two\n")
    c = analyze_cell("r", "x <- c(1, 3)\ny <- x * 2\n")
    assert a.normalized == b.normalized != c.normalized
    assert analyze_cell("r", "x <- 0.1234567890123456").normalized != (
        analyze_cell("r", "x <- 0.1234567890123457").normalized
    )


def test_r_syntax_error_is_a_diagnostic_with_its_line() -> None:
    (diag,) = analyze_cell(
        "r", "x <- 1\ny <- )\nz <- 2\n", cell_id="c", file="cells/c.R"
    ).diagnostics
    assert diag.code == "syntax_error" and diag.severity == "error"
    assert "line 2" in diag.message and "unexpected ')'" in diag.message
    assert diag.span is not None and diag.span.line == 2


def test_r_kind_is_available_with_r_installed() -> None:
    assert kind_for("r").availability("c", "cells/c.R") == []


# -- execution -------------------------------------------------------------------------------
MAKE = """import numpy as np
import pandas as pd
df = pd.DataFrame({
    "g": ["a", "b", "a", None],
    "v": [1.5, 2.0, np.nan, 4.0],
    "n": [1, 2, 3, 4],
    "ok": [True, False, True, True],
    "c": pd.Categorical(["lo", "hi", "lo", "hi"]),
})
k = 3
xs = np.array([1.0, 2.0, 3.0])
word = "hello"
"""
ROUND = """stopifnot(is.data.frame(df), nrow(df) == 4L, is.integer(df$n), is.factor(df$c))
stopifnot(k == 3L, length(xs) == 3L, word == "hello", is.na(df$g[4]), is.na(df$v[3]))
same <- df
total <- sum(df$n) * k
mean_v <- mean(df$v, na.rm = TRUE)
labels <- c("x", NA, "z")
counts <- c(a = 1L, b = 2L)
flag <- TRUE
nothing <- NULL
mat <- matrix(1:6, nrow = 2)
fit <- lm(n ~ v, data = df)
"""


def test_values_cross_from_python_to_r_and_back(session: _Opener) -> None:
    s = session(
        {"make": ("python", MAKE), "round": ("r", ROUND), "use": ("python", "t = total + 1\n")}
    )
    report = s.run()
    assert cell(report, "round")["status"] == "ok", cell(report, "round")
    same = value(s, "round", "same")
    assert isinstance(same, pd.DataFrame)
    original = pd.DataFrame(
        {
            "g": ["a", "b", "a", None],
            "v": [1.5, 2.0, np.nan, 4.0],
            "n": [1, 2, 3, 4],
            "ok": [True, False, True, True],
            "c": pd.Categorical(["lo", "hi", "lo", "hi"]),
        }
    )
    pd.testing.assert_frame_equal(same, original)
    assert value(s, "round", "total") == 30 and isinstance(value(s, "round", "total"), int)
    assert value(s, "round", "mean_v") == pytest.approx(2.5)
    assert value(s, "round", "labels") == ["x", None, "z"]
    assert value(s, "round", "counts") == {"a": 1, "b": 2}
    assert value(s, "round", "flag") is True
    assert value(s, "round", "nothing") is None
    np.testing.assert_array_equal(value(s, "round", "mat"), np.array([[1, 3, 5], [2, 4, 6]]))
    assert "lm" in repr(value(s, "round", "fit"))
    assert value(s, "use", "t") == 31


def test_an_r_object_reaches_the_next_r_cell(session: _Opener) -> None:
    s = session(
        {
            "fit": ("r", "d <- data.frame(x = 1:5, y = 2 * (1:5))\nm <- lm(y ~ x, data = d)\n"),
            "use": ("r", "slope <- unname(coef(m)[2])\n"),
        }
    )
    report = s.run()
    assert cell(report, "use")["status"] == "ok", cell(report, "use")
    assert value(s, "use", "slope") == pytest.approx(2.0)


PLOTS = """library(ggplot2)
d <- data.frame(x = 1:10, y = (1:10)^2)
plot(d$x, d$y)
ggplot(d, aes(x, y)) + geom_line()
"""


def test_base_and_ggplot2_plots_are_png_displays(session: _Opener) -> None:
    s = session({"plots": ("r", PLOTS)})
    report = s.run()
    (run,) = [c for c in report.cells if c.id == "plots"]
    assert run.status == "ok", run.error
    pngs = [base64.b64decode(d["image/png"]) for d in run.displays if "image/png" in d]
    assert len(pngs) == 2 and all(p.startswith(PNG) for p in pngs)


def test_stdout_messages_and_warnings_are_captured(session: _Opener) -> None:
    source = 'cat("to stdout\\n")\nprint(1:3)\nmessage("a message")\nwarning("watch out")\n'
    s = session({"talk": ("r", source)})
    run = cell(s.run(), "talk")
    assert run["status"] == "ok"
    assert run["stdout"] == "to stdout\n[1] 1 2 3\n"
    assert "a message" in str(run["stderr"])
    assert "watch out" in str(run["stderr"]) and "line 4" in str(run["stderr"])


def test_an_r_error_fails_the_cell_with_message_and_line(session: _Opener) -> None:
    source = "x <- 1\nf <- function() {\n  stop('bad input')\n}\ny <- x + 1\nf()\n"
    s = session({"err": ("r", source), "after": ("python", "z = 1\n")})
    report = s.run()
    run = cell(report, "err")
    assert run["status"] == "error"
    assert "bad input" in str(run["error"]) and "cells/err.R, line 3" in str(run["error"])
    assert cell(report, "after")["status"] == "ok"


def test_a_crashing_r_cell_fails_alone_and_the_next_run_works(session: _Opener) -> None:
    s = session({"crash": ("r", "x <- 1\nquit(status = 3)\n"), "ok": ("r", "y <- 2\n")})
    report = s.run()
    assert cell(report, "crash")["status"] == "error"
    assert cell(report, "ok")["status"] == "ok"
    s = session.edit(s, "crash.R", "x <- 1\n")
    again = s.run()
    assert cell(again, "crash")["status"] == "ok"
    assert value(s, "crash", "x") == 1


def test_rerun_is_a_cache_hit_and_comments_keep_the_key(session: _Opener) -> None:
    s = session({"a": ("r", "x <- 1 + 1\n"), "b": ("python", "y = x * 10\n")})
    assert cell(s.run(), "a")["status"] == "ok"
    second = s.run()
    assert cell(second, "a")["cache_hit"] is True and cell(second, "b")["cache_hit"] is True
    s = session.edit(s, "a.R", "# why: two\nx <-   1+1   # sum\n")
    third = s.run()
    assert cell(third, "a")["cache_hit"] is True
    s = session.edit(s, "a.R", "x <- 1 + 2\n")
    fourth = s.run()
    assert cell(fourth, "a")["cache_hit"] is False and value(s, "b", "y") == 30
