"""Which pandas inputs a cell provably cannot change in place (mutation_scope.py): those are
not digested before and after the cell. Anything doubtful keeps the input watched, and a
mutation it would have hidden is still reported through a real run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from strata_engine.backends.jobs import CellJob
from strata_engine.backends.local.executor import LocalExecutor
from strata_engine.backends.local.mutation_scope import unchangeable
from strata_engine.store import BlobStore, store_value


def _namespace() -> dict[str, object]:
    frame = pd.DataFrame({"k": [1, 2, 1], "v": [0.5, 1.5, 2.5]})
    return {"df": frame, "other": frame.copy(), "s": frame["v"], "n": 3, "arr": np.arange(3)}


SAFE = {
    "filter and copy": "clean = df[df['v'] > 0].copy()\nclean['w'] = clean['v'] ** 2\n",
    "assign with a column's mean": "f = df.assign(z=(df['v'] - df['v'].mean()) / df['v'].std())\n",
    "groupby": "agg = df.groupby('k').agg(n=('v', 'size'), mean=('v', 'mean'))\n",
    "sort and head": "top = df.sort_values('v', ascending=False).head(2)\n",
    "merge with another input": "j = df.merge(other, left_on='k', right_index=True)\n",
    "builtins": "report = {'rows': len(df), 'best': int(df.index[0])}\nprint(report)\n",
    "loc read": "x = df.loc[df.k == 1, 'v'].sum()\n",
    "pandas concat of a list": "import pandas as pd\nboth = pd.concat([df, other])\n",
    "series ops": "t = s * 2 + s.mean()\nu = s.str.upper() if False else s.round(1)\n",
    "f-string": "msg = f'{df.shape} rows {n}'\n",
}

UNSAFE = {
    "inplace": "df.drop(index=0, inplace=True)\n",
    "helper function": "from helpers import bump\nbump(df)\n",
    "cell function": "def bump(d):\n    d['v'] += 1\n\nbump(df)\n",
    "lambda": "x = df.assign(z=lambda d: d.v)\n",
    "alias": "x = df\nx['v'] = 0\n",
    "in a list kept": "keep = [df]\nkeep[0]['v'] = 0\n",
    "the array underneath": "df['v'].array[0] = 9\n",
    "values and setflags": "a = df.v.values\n",
    "private internals": "df._mgr\n",
    "indexer kept": "ix = df.loc\nix[0, 'v'] = 9\n",
    "loc written": "df.loc[0, 'v'] = 9\n",
    "iloc augmented": "df.iloc[0, 1] += 1\n",
    "at written": "df.at[0, 'v'] = 9\n",
    "loc deleted": "del df.loc[0]\n",
    "column assignment": "df['v'] = 0\n",
    "attribute assignment": "df.columns = ['a', 'b']\n",
    "bound method handed on": "m = df.sort_values\n",
    "insert": "df.insert(0, 'z', 1)\n",
    "pipe": "df.pipe(print)\n",
    "update": "df.update(other)\n",
    "out=": "import numpy as np\nnp.round(df, out=df)\n",
    "getattr": "getattr(df, 'drop')(index=0, inplace=True)\n",
    "globals": "globals()['df']\n",
    "kwargs": "opts = {'inplace': True}\ndf.drop(index=0, **opts)\n",
    "other import": "import os\nx = len(df)\n",
    "unknown call": "x = sorted(df.columns)\nfoo(x)\n",
    "numpy input named": "x = df.v.sum() + arr.sum()\n",
    "shadowed builtin": "import pandas as len\nlen(df)\n",
    "syntax error": "df.drop(\n",
    "iterated": "for c in df:\n    pass\n",
    "del": "del df\n",
}


@pytest.mark.parametrize("source", SAFE.values(), ids=SAFE.keys())
def test_plain_pandas_reads_leave_the_input_unwatched(source: str) -> None:
    # Inputs the source does not name cannot be reached either (no code but pandas' runs).
    assert unchangeable(source, ["df", "other", "s", "n"], _namespace()) == {"df", "other", "s"}


@pytest.mark.parametrize("source", UNSAFE.values(), ids=UNSAFE.keys())
def test_anything_doubtful_keeps_the_input_watched(source: str) -> None:
    assert "df" not in unchangeable(source, ["df", "other", "s", "n", "arr"], _namespace())


def test_only_pandas_inputs_are_ever_unwatched() -> None:
    ns = {"data": [1, 2], "df": pd.DataFrame({"a": [1]})}
    assert unchangeable("x = len(df)\n", ["data", "df"], ns) == {"df"}


def test_a_mutation_through_a_cell_function_is_still_reported(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "store")
    stored = {"df": store_value(blobs, "df", pd.DataFrame({"a": [1, 2]}))}
    source = "def bump(d):\n    d.loc[0, 'a'] = 5\n\nbump(df)\nn = len(df)\n"
    job = CellJob(
        cell_id="b",
        language="python",
        source=source,
        filename="cells/b.py",
        inputs=stored,
        publish=("bump", "n"),
        required=frozenset(),
        env={},
        timeout=60.0,
        cwd=tmp_path,
    )
    with LocalExecutor(blobs, preload=["pandas"]) as executor:
        result = executor.run(job)
    assert result.status == "ok", result.error
    assert [m["variable"] for m in result.mutations] == ["df"]
