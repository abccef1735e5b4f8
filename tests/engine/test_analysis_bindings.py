"""Every Python binding form, checked against CPython's own symbol table (SPEC 5).

`symtable` is the compiler's answer to "which names does the module scope bind, which do
nested scopes read from it". The cell analysis is flow-sensitive (a read after a binding is
not a reference; `del` unbinds), so the comparison is one of inclusion:

- every define is a module binding (or a republished upstream name), and every module
  binding never deleted anywhere is a define: comprehension and lambda variables never leak;
- every reference is a name the program reads or deletes somewhere, and every name read at
  module level or from a nested scope that the cell binds nowhere is a reference.

Type aliases (`type X = ...`, Python 3.12) do not parse on the engine's Python 3.11.
"""

from __future__ import annotations

import ast
import symtable
import textwrap

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from strata_engine.analysis import CellAnalysis
from strata_engine.kinds import analyze_cell

NAMES = st.sampled_from(["a", "b", "df", "x", "_p", "print", "total", "n"])


def _expressions() -> st.SearchStrategy[str]:
    leaves = NAMES | st.integers(0, 9).map(str) | st.just("'s'")
    return st.recursive(
        leaves,
        lambda e: st.one_of(
            st.tuples(e, st.sampled_from(["+", "and", "<"]), e).map(" ".join),
            st.tuples(e, e).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(e, e).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(e, NAMES, e).map(lambda t: f"[{t[0]} for {t[1]} in {t[2]}]"),
            st.tuples(e, NAMES, e, NAMES, e).map(
                lambda t: f"[{t[0]} for {t[1]} in {t[2]} if ({t[3]} := {t[4]})]"
            ),
            st.tuples(NAMES, NAMES, e).map(lambda t: f"{{{t[0]}: 1 for {t[0]}, {t[1]} in {t[2]}}}"),
            st.tuples(NAMES, e).map(lambda t: f"(lambda {t[0]}, *rest: {t[1]})"),
            st.tuples(NAMES, e).map(lambda t: f"({t[0]} := {t[1]})"),
        ),
        max_leaves=5,
    )


EXPR = _expressions()
_MUTATORS = ["append(1)", "sort()", "update(x)", "drop(index=0, inplace=True)", "pop()"]


def _simple() -> st.SearchStrategy[list[str]]:
    two = st.tuples(NAMES, NAMES)
    return st.one_of(
        st.tuples(NAMES, EXPR).map(lambda t: [f"{t[0]} = {t[1]}"]),
        st.tuples(NAMES, NAMES, NAMES, EXPR).map(lambda t: [f"{t[0]}, ({t[1]}, *{t[2]}) = {t[3]}"]),
        st.tuples(NAMES, EXPR).map(lambda t: [f"[{t[0]}, *_rest] = {t[1]}"]),
        st.tuples(NAMES, st.sampled_from(["+=", "*=", "|="]), EXPR)
        .map(" ".join)
        .map(lambda s: [s]),
        st.tuples(NAMES, EXPR).map(lambda t: [f"{t[0]}: int = {t[1]}"]),
        NAMES.map(lambda n: [f"{n}: int"]),
        st.tuples(NAMES, EXPR, EXPR).map(lambda t: [f"{t[0]}[{t[1]}] = {t[2]}"]),
        st.tuples(NAMES, EXPR).map(lambda t: [f"{t[0]}.attr = {t[1]}"]),
        st.tuples(NAMES, st.sampled_from(_MUTATORS)).map(lambda t: [f"{t[0]}.{t[1]}"]),
        EXPR.map(lambda s: [s]),
        NAMES.map(lambda n: [f"import {n}"]),
        NAMES.map(lambda n: [f"import {n}.sub"]),
        two.map(lambda t: [f"import {t[0]}.sub as {t[1]}"]),
        two.map(lambda t: [f"from {t[0]} import {t[1]}"]),
        two.map(lambda t: [f"from .{t[0]} import y as {t[1]}, {t[0]}"]),
        NAMES.map(lambda n: [f"del {n}"]),
    )


def _statements(depth: int) -> st.SearchStrategy[list[str]]:
    if depth == 0:
        return _simple()
    body = st.lists(_statements(depth - 1), min_size=1, max_size=3).map(
        lambda blocks: ["    " + line for block in blocks for line in block]
    )
    case_body = body.map(lambda lines: ["    " + line for line in lines])
    patterns = st.one_of(
        st.tuples(NAMES, NAMES).map(lambda t: f"[{t[0]}, *{t[1]}]"),
        st.tuples(NAMES, NAMES).map(lambda t: f'{{"k": {t[0]}, **{t[1]}}}'),
        st.tuples(NAMES, NAMES).map(lambda t: f"({t[0]} | 0) as {t[1]}"),
        st.tuples(NAMES, NAMES).map(lambda t: f"{t[0]}.Cls(attr={t[1]})"),
        NAMES.map(lambda n: f"{n}.VALUE"),
        NAMES,
    )
    compound = st.one_of(
        st.tuples(EXPR, body, body).map(lambda t: [f"if {t[0]}:", *t[1], "else:", *t[2]]),
        st.tuples(NAMES, NAMES, EXPR, body).map(
            lambda t: [f"for {t[0]}, ({t[1]}, *_r) in {t[2]}:", *t[3]]
        ),
        st.tuples(EXPR, body).map(lambda t: [f"while {t[0]}:", *t[1]]),
        st.tuples(NAMES, NAMES, NAMES, body).map(
            lambda t: [f"def {t[0]}({t[1]}, *a, k={t[2]}, **kw):", *t[3]]
        ),
        st.tuples(NAMES, NAMES, body).map(
            lambda t: [f"def {t[0]}():", f"    global {t[1]}", *t[2]]
        ),
        st.tuples(NAMES, NAMES, body).map(
            lambda t: [
                f"def {t[0]}():",
                f"    {t[1]} = 0",
                "    def inner():",
                f"        nonlocal {t[1]}",
                *["    " + line for line in t[2]],
                "    inner()",
            ]
        ),
        st.tuples(NAMES, NAMES, body).map(lambda t: [f"class {t[0]}({t[1]}):", *t[2]]),
        st.tuples(body, NAMES, body).map(
            lambda t: ["try:", *t[0], f"except Exception as {t[1]}:", *t[2]]
        ),
        st.tuples(EXPR, NAMES, NAMES, body).map(
            lambda t: [f"with {t[0]} as {t[1]}, {t[0]} as ({t[2]}, _w):", *t[3]]
        ),
        st.tuples(EXPR, st.lists(st.tuples(patterns, case_body), min_size=1, max_size=3)).map(
            lambda t: [
                f"match {t[0]}:",
                *[line for p, b in t[1] for line in [f"    case {p}:", *b]],
            ]
        ),
    )
    return _simple() | compound


PROGRAMS = st.lists(_statements(2), min_size=1, max_size=5).map(
    lambda blocks: "\n".join(line for block in blocks for line in block) + "\n"
)


# --- the oracle ------------------------------------------------------------------------------


def _tables(table: symtable.SymbolTable) -> list[symtable.SymbolTable]:
    out = [table]
    for child in table.get_children():
        out += _tables(child)
    return out


class _Oracle:
    def __init__(self, source: str) -> None:
        tree = ast.parse(source)
        self.deleted = {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Del)
        }
        self.read_anywhere = {
            n.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)
        } | {
            n.target.id
            for n in ast.walk(tree)
            if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)
        }
        # `x: int` assigns nothing, but the symbol table calls `x` assigned; such names are
        # left out of the completeness check (unit tests pin `x: int` then `x = 1`)
        self.annotated_only = {
            n.target.id
            for n in ast.walk(tree)
            if isinstance(n, ast.AnnAssign) and n.value is None and isinstance(n.target, ast.Name)
        }
        top = symtable.symtable(source, "<cell>", "exec")
        module = top.get_symbols()
        self.module_bound = {s.get_name() for s in module if s.is_assigned() or s.is_imported()}
        nested = [t for t in _tables(top)[1:]]
        self.global_bound = {
            s.get_name()
            for t in nested
            for s in t.get_symbols()
            if s.is_declared_global() and (s.is_assigned() or s.is_imported())
        }
        self.read_from_module = {s.get_name() for s in module if s.is_referenced()} | {
            s.get_name()
            for t in nested
            for s in t.get_symbols()
            if s.is_global() and (s.is_referenced() or s.get_name() in self.deleted)
        }

    @property
    def bound(self) -> set[str]:
        return self.module_bound | self.global_bound


def _public(names: set[str]) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def _check(source: str, result: CellAnalysis) -> None:
    oracle = _Oracle(source)
    defines, references = set(result.defines), set(result.references)
    # defines: sound (republished names are upstream reads), complete (nothing leaks away)
    assert defines - set(result.mutated) <= oracle.bound
    assert _public(oracle.bound - oracle.deleted - oracle.annotated_only) <= defines
    # references: sound, and complete for names the cell never binds
    assert references <= oracle.read_anywhere
    assert _public(oracle.read_from_module - oracle.bound) <= references
    assert set(result.mutated) <= references & defines


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(PROGRAMS)
def test_bindings_agree_with_the_symbol_table(source: str) -> None:
    try:
        compile(source, "<cell>", "exec", dont_inherit=True)
    except SyntaxError:
        assume(False)
    _check(source, analyze_cell("python", source))


@pytest.mark.parametrize(
    "source",
    [
        "for i, (j, *k) in pairs:\n    pass",
        "with ctx() as c, other() as (d, e):\n    pass",
        "try:\n    pass\nexcept ValueError as err:\n    pass",
        "import a.b.c\nimport d.e as f\nfrom g import h, i as j\nfrom . import k",
        "total += step",
        "x: int = 1\ny: int",
        "match cmd:\n    case [p, *q]:\n        pass\n    case {'k': r, **s}:\n        pass\n"
        "    case (1 | 2) as t:\n        pass\n    case Point(x=u):\n        pass",
        "class C(Base):\n    attr = value\n    def m(self):\n        return attr\n",
        "def f():\n    v = 0\n    def g():\n        nonlocal v\n        v = w\n    return g",
        "a, (b, *c) = d\n[e, *f] = g",
        "f = lambda q, *r: q + s\nys = [z for z in zs]\nm = {k: 1 for k, v in items}",
        "[y for x in data if (y := g(x))]",
        "def f():\n    global x, y\n    x = 1\n    del y",
        # `global` in a nested function reads the module's name past the enclosing function's
        # own binding of it (found by the property test below)
        "def b(b, *a, k=b, **kw):\n    a = a\n    def a():\n        global a\n        b = a\n",
        "def f():\n    a = 1\n    def g():\n        def h():\n"
        "            global a\n            return a\n",
        "xs.append(1)\ndf.drop(index=0, inplace=True)\nitem = queue.pop()",
    ],
)
def test_each_binding_form_agrees_with_the_symbol_table(source: str) -> None:
    source = textwrap.dedent(source)
    _check(source, analyze_cell("python", source))


def test_binding_forms_in_detail() -> None:
    result = analyze_cell(
        "python", "match cmd:\n    case {'k': r, **s} | [r, *s] as t:\n        pass\n"
    )
    assert (result.defines, result.references) == (("r", "s", "t"), ("cmd",))
    result = analyze_cell("python", "ys = [z for z in zs]\nf = lambda q: q\n")
    assert (result.defines, result.references) == (("ys", "f"), ("zs",))
    assert analyze_cell("python", "x: int\nx = 1\n").defines == ("x",)
    assert analyze_cell("python", "x: int\n").defines == ()
    nonlocal_ = "def f():\n    v = 0\n    def g():\n        nonlocal v\n        v = w\n"
    assert analyze_cell("python", nonlocal_).defines == ("f",)
    assert analyze_cell("python", nonlocal_).references == ("w",)
    deep_global = "def f():\n    a = 1\n    def g():\n        global a\n        return a\n"
    assert analyze_cell("python", deep_global).references == ("a",)


def test_type_alias_statement_is_a_syntax_error_on_python_3_11() -> None:
    import sys

    if sys.version_info >= (3, 12):
        pytest.skip("3.12 parses `type X = int`; add it to the binding forms there")
    assert analyze_cell("python", "type X = int\n").diagnostics[0].code == "syntax_error"
