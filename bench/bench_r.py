"""A 1-million-row DataFrame into R and back (issue [8]): Strata's conversion
(`kinds/r_convert.py`) against rpy2's own (`pandas2ri.py2rpy` + `rpy2py`), same process,
same frame, same run.

    .venv/bin/python bench/bench_r.py [--rows 1000000] [--repeat 3]

The frame has the column kinds cells exchange: float64, int64, bool, a low-cardinality
string column, a high-cardinality string column and a categorical. Each side converts the
frame to an R data.frame, asks R for a checksum (so R really has the values), and converts
it back; the best of --repeat is reported. Needs R and rpy2 (scripts/setup-r.sh).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "n": rng.integers(0, 1_000_000, size=rows),
            "flag": rng.random(rows) < 0.5,
            "region": rng.choice(["north", "south", "east", "west"], size=rows),
            "user": [f"u{i}" for i in rng.integers(0, rows // 2, size=rows)],
            "tier": pd.Categorical(rng.choice(["a", "b", "c"], size=rows)),
        }
    )


def best(repeat: int, step: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from rpy2.robjects import conversion, default_converter, pandas2ri

    from strata_engine.kinds import r_convert, r_runtime

    ri = r_runtime.start()
    checksum = ri.evalr("function(d) sum(d$x) + sum(d$n) + length(unique(d$user))")
    data = frame(args.rows)

    def ours() -> Any:
        back = r_convert.from_r(_checked(checksum, r_convert.to_r(data)))
        return back

    def theirs() -> Any:
        with conversion.localconverter(default_converter + pandas2ri.converter) as cv:
            r_frame = cv.py2rpy(data)
            _checked(checksum, r_frame)
            return cv.rpy2py(r_frame)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas2ri warns about every object column
        ours_s, ours_back = best(args.repeat, ours)
        theirs_s, theirs_back = best(args.repeat, theirs)
    assert len(ours_back) == len(theirs_back) == args.rows
    pd.testing.assert_series_equal(ours_back["x"], data["x"])
    assert ours_back["user"].tolist() == data["user"].tolist()

    print(f"| {args.rows:,} rows x {data.shape[1]} columns, Python -> R -> Python | seconds |")
    print("| --- | --- |")
    print(f"| rpy2 pandas2ri (py2rpy + rpy2py) | {theirs_s:.3f} |")
    print(f"| Strata r_convert (to_r + from_r) | {ours_s:.3f} |")
    print(f"| ratio (Strata / rpy2) | {ours_s / theirs_s:.3f} |")
    print(f"| dtypes back, Strata | {_dtypes(ours_back)} |")
    print(f"| dtypes back, rpy2 | {_dtypes(theirs_back)} |")


def _checked(checksum: Any, r_frame: Any) -> Any:
    checksum(r_frame)
    return r_frame


def _dtypes(back: pd.DataFrame) -> str:
    return ", ".join(f"{name}: {dtype}" for name, dtype in back.dtypes.items())


if __name__ == "__main__":
    main()
