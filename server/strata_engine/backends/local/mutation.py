"""Inputs a cell changed in place, found at run time (inside the cell's process).

A cell that mutates an upstream value without rebinding its name (`df.drop(..., inplace=True)`
behind a helper function, `bump(df)`) publishes nothing for that name, so downstream cells
see the producer's stored value, not the mutated one. Static analysis catches the common
mutators; this catches the rest: each input's content digest is taken after loading and
again after the cell ran. Only values that can change are watched (not str, int, tuple of
those...), and inputs the cell publishes again are skipped: their readers get the new value.

Digests are xxh3 over what the value holds: the raw buffers of numpy arrays and of a
DataFrame's blocks (no copy when contiguous), Arrow buffers of Arrow-backed columns, a
pickle for everything else. A value that cannot be digested is not watched.
"""

from __future__ import annotations

import ast
import pickle
import sys
from collections.abc import Collection, Mapping
from typing import Any

import xxhash

_IMMUTABLE = (str, bytes, int, float, complex, bool, type(None), range, frozenset)
Watched = dict[str, tuple[object, int]]


def watch(inputs: Collection[str], namespace: Mapping[str, Any], skip: Collection[str]) -> Watched:
    """name -> (the loaded object, its digest) for the inputs worth watching."""
    watched: Watched = {}
    for name in inputs:
        value = namespace.get(name)
        if name in skip or isinstance(value, _IMMUTABLE) or _immutable_tuple(value):
            continue
        digest = _digest(value)
        if digest is not None:
            watched[name] = (value, digest)
    return watched


def changed(watched: Watched, source: str) -> list[dict[str, Any]]:
    """[{"variable", "line"}] for each watched object whose content is no longer the same
    (the object itself, whatever the name is bound to now); line None if not found."""
    found = [name for name, (value, before) in watched.items() if _digest(value) != before]
    if not found:
        return []
    lines = _likely_lines(source, set(found))
    return [{"variable": name, "line": lines.get(name)} for name in found]


def _immutable_tuple(value: object) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, _IMMUTABLE) for v in value)


def _digest(value: object) -> int | None:
    hasher = xxhash.xxh3_64()
    try:
        _feed(hasher, value)
    except Exception:
        return None  # unpicklable, exotic: not watched rather than a false alarm
    return int(hasher.intdigest())


def _feed(hasher: Any, value: object) -> None:
    numpy = sys.modules.get("numpy")
    pandas = sys.modules.get("pandas")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.dtype != object:
        _feed_array(hasher, value)
    elif pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series)):
        _feed_pandas(hasher, pandas, value)
    else:
        hasher.update(pickle.dumps(value, protocol=5))


def _feed_array(hasher: Any, array: Any) -> None:
    hasher.update(f"{array.dtype.str}{array.shape}".encode())
    if array.flags.c_contiguous:
        hasher.update(array.reshape(-1).view("u1"))
    elif array.flags.f_contiguous:
        hasher.update(array.T.reshape(-1).view("u1"))
    else:
        hasher.update(array.copy().reshape(-1).view("u1"))


def _feed_pandas(hasher: Any, pandas: Any, value: Any) -> None:
    frame = value.to_frame() if isinstance(value, pandas.Series) else value
    hasher.update(pickle.dumps((list(frame.columns), [str(t) for t in frame.dtypes])))
    _feed_column(hasher, pandas, frame.index)
    for column in _columns(frame):
        _feed_column(hasher, pandas, column)


def _columns(frame: Any) -> list[Any]:
    """Each column's values in column order, without copying: read from the blocks (one
    2-D array per numpy dtype, or one extension array), since consolidating blocks, which
    pandas does on some reads, reorders them but changes no column."""
    try:
        located: list[tuple[int, Any]] = []
        for block in frame._mgr.blocks:
            locs, values = block.mgr_locs.as_array, block.values
            if getattr(values, "ndim", 1) == 2:
                located += [(int(loc), values[row]) for row, loc in enumerate(locs)]
            else:
                located.append((int(locs[0]), values))
        return [values for _loc, values in sorted(located, key=lambda item: item[0])]
    except AttributeError:  # another pandas' internals: the public, slower way
        return [frame.iloc[:, i].array for i in range(frame.shape[1])]


def _feed_column(hasher: Any, pandas: Any, column: Any) -> None:
    numpy = sys.modules["numpy"]
    if isinstance(column, pandas.RangeIndex):
        hasher.update(f"{column.start}:{column.stop}:{column.step}".encode())
        return
    # An Index's `.array` wraps a numpy index in an extension array, which would be hashed
    # item by item as objects (~190 ms for 200k rows); `_values` is the ndarray itself.
    array = column._values if isinstance(column, pandas.Index) else column
    if isinstance(array.dtype, numpy.dtype) and array.dtype != object:
        _feed_array(hasher, numpy.asarray(array))
    elif hasattr(array, "__arrow_array__"):
        for chunk in array.__arrow_array__().chunks:
            hasher.update(f"{chunk.offset}:{len(chunk)}".encode())
            for buffer in chunk.buffers():
                if buffer is not None:
                    hasher.update(memoryview(buffer))
    else:
        try:
            _feed_array(hasher, pandas.util.hash_array(numpy.asarray(array, dtype=object)))
        except TypeError:  # unhashable items (lists in a column)
            hasher.update(pickle.dumps(array, protocol=5))


# -- where it probably happened -----------------------------------------------------------
def _likely_lines(source: str, names: set[str]) -> dict[str, int]:
    """The first line where each name is changed in place in the cell's own text: the
    receiver of a method call or of a subscript/attribute (augmented) assignment or del;
    else the first line passing it to a call; else its first reading."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    ranks: dict[str, tuple[int, int]] = {}
    for node in ast.walk(tree):
        for name, rank in _uses(node, names):
            line = getattr(node, "lineno", 0)
            if name not in ranks or (rank, line) < ranks[name]:
                ranks[name] = (rank, line)
    return {name: line for name, (_rank, line) in ranks.items()}


def _uses(node: ast.AST, names: set[str]) -> list[tuple[str, int]]:
    """(name, rank) of the watched names this node uses; lower ranks are likelier culprits."""
    found: list[tuple[str, int]] = []
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute):
            found += [(n, 0) for n in _root(node.func.value, names)]
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            found += [(n, 1) for n in _root(arg, names) if isinstance(arg, ast.Name)]
    elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target in targets:
            if isinstance(target, (ast.Subscript, ast.Attribute)):
                found += [(n, 0) for n in _root(target.value, names)]
    elif isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load):
        found.append((node.id, 2))
    return found


def _root(node: ast.expr, names: set[str]) -> list[str]:
    """The name at the root of `df.loc[0]`, `df["a"].values`, if it is a watched one."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return [node.id] if isinstance(node, ast.Name) and node.id in names else []
