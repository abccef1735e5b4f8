"""In-place mutator calls that republish the name they are called on (SPEC 5).

SPEC 5 makes `df["c"] = v` a reference and a define of `df`: the cell publishes a new
version, and later readers are wired to it. A call that changes its receiver in place is
the same thing written differently, so `df.drop(index=0, inplace=True)` and `xs.append(v)`
follow that rule (python.py applies it only to names the cell reads from upstream).

Recognised, on a receiver that is a name or a subscript of one (`xs`, `d["k"]`):
- any method called with `inplace=True` (pandas, numpy's `byteswap`);
- the mutators of list, dict, set, deque, numpy arrays and DataFrames below, when the
  number of positional arguments fits the in-place signature. Those returning None count
  only as statements: used as a value they are some other API (`img.resize((w, h))`).

Not recognised, on purpose: receivers reached through an attribute (`self.items.append`,
`sys.path.append`, `os.environ.update` change another object than the name), and
functions of modules commonly imported under these names (`os.remove(p)`, `np.put(a, i, v)`
share a mutator's name and arity). The runtime digest check reports what is missed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Mutator:
    min_args: int
    max_args: int | None
    """Positional arguments of the in-place signature; None: any number."""
    statement_only: bool = True
    """Returns None: only a statement is this mutator (as a value it is another API)."""

    def fits(self, call: ast.Call, statement: bool) -> bool:
        if self.statement_only and not statement:
            return False
        if any(isinstance(a, ast.Starred) for a in call.args):
            return True
        count = len(call.args)
        return self.min_args <= count and (self.max_args is None or count <= self.max_args)


MUTATORS: dict[str, _Mutator] = {
    # list (and deque)
    "append": _Mutator(1, 1),
    "extend": _Mutator(1, 1),
    "insert": _Mutator(2, 3),  # list.insert(i, x); DataFrame.insert(loc, column, value)
    "remove": _Mutator(1, 1),
    "clear": _Mutator(0, 0),
    "sort": _Mutator(0, 1),  # list.sort(); ndarray.sort(axis)
    "reverse": _Mutator(0, 0),
    "appendleft": _Mutator(1, 1),
    "extendleft": _Mutator(1, 1),
    "pop": _Mutator(0, 2, statement_only=False),  # list/dict/set/deque/DataFrame
    "popleft": _Mutator(0, 0, statement_only=False),
    # dict (and set, DataFrame)
    "update": _Mutator(0, 1),
    "setdefault": _Mutator(1, 2, statement_only=False),
    "popitem": _Mutator(0, 0, statement_only=False),
    # set
    "add": _Mutator(1, 1),
    "discard": _Mutator(1, 1),
    "difference_update": _Mutator(0, None),
    "intersection_update": _Mutator(0, None),
    "symmetric_difference_update": _Mutator(1, 1),
    # numpy arrays
    "fill": _Mutator(1, 1),
    "resize": _Mutator(1, None),
    "put": _Mutator(2, 3),
    "itemset": _Mutator(1, None),
}

MODULE_ROOTS = frozenset({"os", "sys", "shutil", "np", "numpy", "pd", "pandas"})
"""Names that are nearly always modules: `os.remove(p)` is not a list's `remove`."""


def mutated_root(call: ast.Call, *, statement: bool = False) -> ast.Name | None:
    """The name `call` changes in place, if it is a recognised mutator call; `statement`:
    the call is a whole expression statement."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    if not _inplace_keyword(call):
        mutator = MUTATORS.get(func.attr)
        if mutator is None or not mutator.fits(call, statement):
            return None
    receiver = func.value
    while isinstance(receiver, ast.Subscript):
        receiver = receiver.value
    if not isinstance(receiver, ast.Name) or receiver.id in MODULE_ROOTS:
        return None
    return receiver


def _inplace_keyword(call: ast.Call) -> bool:
    return any(
        k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )
