"""Inputs a cell provably cannot change in place, read from its source before it runs.

mutation.py digests each watched input before and after the cell (~2 ms each way for an
8 MB DataFrame). Under pandas' copy-on-write (always on from pandas 3) nothing derived from a
DataFrame or Series (a column, a slice, `.loc[...]`, a method's result) writes back into it,
so a pandas input can change in place only through the object itself or through code that
holds it. A pandas input is left unwatched when the cell runs no code but pandas', numpy's
and a few builtins, and every use of the input's name is one of these:

- an item read (`df["v"]`, `df[mask]`), an indexer read (`df.loc[m]`), a plain attribute read
  (`df.shape`, `df.index`, a column `df.v`);
- a call of one of its methods that never mutate without `inplace=` (`df.assign(...)`);
- an operand (`df["v"] > 0`, `df + 1`), an f-string field;
- an argument (or an item of a list, tuple or dict argument) of an allowed call.

A call is allowed when it is a builtin named in `_PURE_BUILTINS` or a method or module
function named in `_PURE_METHODS`, without `inplace=`; the cell may import only pandas and
numpy, define no function, lambda or class, and name no attribute that reaches the data
underneath (`.array`, `.values`, `.obj`, anything private...). Every input the source names
must be a pandas object or immutable, so no function travels in as an input either. Any
doubt and every input is watched, as before: this only ever removes work that could not
find anything.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Collection, Mapping
from typing import Any

_PURE_BUILTINS = frozenset(
    {
        "len", "print", "repr", "str", "int", "float", "bool", "round", "abs", "min", "max",
        "sum", "sorted", "list", "tuple", "dict", "set", "isinstance", "type", "range",
        "enumerate", "zip", "display", "Markdown",
    }
)  # fmt: skip
_PURE_METHODS = frozenset(
    {
        # DataFrame / Series / GroupBy / Index: a new object, or a scalar
        "assign", "merge", "join", "groupby", "agg", "aggregate", "sort_values", "sort_index",
        "head", "tail", "copy", "filter", "drop", "rename", "reset_index",
        "set_index", "fillna", "dropna", "astype", "isna", "isnull", "notna", "notnull",
        "isin", "sum", "mean", "median", "std", "var", "min", "max", "count", "describe",
        "value_counts", "unique", "nunique", "round", "abs", "clip", "cumsum", "cumprod",
        "diff", "shift", "pct_change", "rank", "nlargest", "nsmallest", "idxmax", "idxmin",
        "any", "all", "prod", "quantile", "corr", "cov", "pivot", "pivot_table", "melt",
        "stack", "unstack", "explode", "drop_duplicates", "duplicated", "to_frame", "where",
        "mask", "replace", "between", "first", "last", "mode", "equals", "items",
        "iterrows", "itertuples", "tolist", "to_list", "to_dict", "to_string", "reindex",
        "select_dtypes", "transpose", "get", "keys", "size", "upper", "lower",
        "strip", "contains", "startswith", "endswith", "split",
        # pandas' module functions
        "concat", "DataFrame", "Series", "crosstab", "cut", "qcut", "get_dummies",
        "to_datetime", "to_numeric", "date_range",
    }
)  # fmt: skip
_INDEXERS = frozenset({"loc", "iloc", "at", "iat", "str", "dt", "cat"})
"""Attributes whose object holds the input itself: fine read through at once, never kept."""
_ESCAPES = frozenset(
    {"array", "values", "obj", "data", "base", "setflags", "to_numpy", "view", "ctypes",
     "flat", "style", "plot", "pipe", "apply", "map", "transform", "applymap", "eval",
     "insert", "pop", "update"}
)  # fmt: skip
"""Attribute names that reach a writable buffer or the object itself, or run code the cell
passes in: anywhere in the source, they turn this off."""
_SAFE_MODULES = frozenset({"pandas", "numpy"})
_WRITING_KEYWORDS = frozenset({"inplace", "out", None})  # None: **kwargs, which may hold them


def unchangeable(
    source: str, inputs: Collection[str], namespace: Mapping[str, Any]
) -> frozenset[str]:
    """The inputs this cell provably cannot change in place (see the module docstring)."""
    pandas = sys.modules.get("pandas")
    if pandas is None or not _copy_on_write(pandas) or not inputs:
        return frozenset()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    parents = _parents(tree)  # one walk (ast.walk is slow): every node is a key
    named = {n.id for n in parents if isinstance(n, ast.Name)}
    frames = (pandas.DataFrame, pandas.Series)
    for name in named & set(inputs):
        value = namespace.get(name)
        if not isinstance(value, frames) and not _immutable(value):
            return frozenset()  # a function or container in: its code or items may be anything
    if not _runs_only_known_code(parents.keys(), set(inputs)):
        return frozenset()
    candidates = {n for n in inputs if isinstance(namespace.get(n), frames)}
    unsafe = {
        node.id
        for node in parents
        if isinstance(node, ast.Name)
        and node.id in candidates
        and not _safe_use(node, parents, type(namespace[node.id]))
    }
    return frozenset(candidates - unsafe)


def _copy_on_write(pandas: Any) -> bool:
    try:
        major = int(str(pandas.__version__).split(".")[0])
    except ValueError:
        return False
    if major >= 3:
        return True
    try:
        return pandas.options.mode.copy_on_write is True
    except AttributeError:
        return False


def _immutable(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_immutable(v) for v in value)
    return isinstance(value, (str, bytes, int, float, complex, bool, type(None), range))


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST | None]:
    """Each node of the tree (the root too) -> its parent."""
    parents: dict[ast.AST, ast.AST | None] = {tree: None}
    todo = [tree]
    while todo:
        node = todo.pop()
        for child in ast.iter_child_nodes(node):
            parents[child] = node
            todo.append(child)
    return parents


_FOREIGN_CODE = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ImportFrom,
    ast.Global, ast.Nonlocal, ast.Await, ast.Yield, ast.YieldFrom,
)  # fmt: skip


def _runs_only_known_code(nodes: Collection[ast.AST], inputs: set[str]) -> bool:
    imported: set[str] = set()
    for node in nodes:
        if isinstance(node, _FOREIGN_CODE):
            return False
        if isinstance(node, ast.Import):
            if any(a.name.partition(".")[0] not in _SAFE_MODULES for a in node.names):
                return False
            imported |= {(a.asname or a.name).partition(".")[0] for a in node.names}
    shadowing = imported | inputs  # names that are not the builtins they may look like
    for node in nodes:
        if isinstance(node, ast.Attribute) and (node.attr.startswith("_") or node.attr in _ESCAPES):
            return False
        if isinstance(node, ast.Call) and not _allowed_call(node, shadowing):
            return False
    return True


def _allowed_call(call: ast.Call, shadowing: set[str]) -> bool:
    if any(k.arg in _WRITING_KEYWORDS for k in call.keywords):
        return False
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in _PURE_BUILTINS and func.id not in shadowing
    return isinstance(func, ast.Attribute) and func.attr in _PURE_METHODS


def _safe_use(name: ast.Name, parents: dict[ast.AST, ast.AST | None], kind: type) -> bool:
    """Whether this occurrence of an input's name can neither change it nor hand it on."""
    if not isinstance(name.ctx, ast.Load):
        return False
    parent = parents.get(name)
    if isinstance(parent, ast.Subscript):
        return parent.value is name and isinstance(parent.ctx, ast.Load)
    if isinstance(parent, ast.Attribute):
        return _safe_attribute(parent, parents, kind)
    if isinstance(parent, (ast.BinOp, ast.Compare, ast.UnaryOp, ast.FormattedValue)):
        return True
    if isinstance(parent, (ast.List, ast.Tuple, ast.Dict)):
        parent = parents.get(parent)  # an item of a literal passed straight to a call
    if isinstance(parent, ast.keyword):
        parent = parents.get(parent)
    return isinstance(parent, ast.Call) and parent.func is not name


def _safe_attribute(
    attribute: ast.Attribute, parents: dict[ast.AST, ast.AST | None], kind: type
) -> bool:
    if not isinstance(attribute.ctx, ast.Load):
        return False  # df.columns = ..., del df.x
    above = parents.get(attribute)
    if isinstance(above, ast.Call) and above.func is attribute:
        return attribute.attr in _PURE_METHODS  # inplace= and out= were refused for every call
    if attribute.attr in _INDEXERS:  # read through at once: df.loc[m], df.str.upper()
        # Never written through: `df.loc[0, "v"] = 9` changes `df` itself.
        return (
            isinstance(above, (ast.Subscript, ast.Attribute))
            and above.value is attribute
            and isinstance(above.ctx, ast.Load)
        )
    # A property (df.shape, df.index) or a column (df.v); a method handed on is no read.
    return not callable(getattr(kind, attribute.attr, None))
