"""Cell analysis (SPEC 5): defines, references, normalization and facts for preloading/keys."""

from __future__ import annotations

import ast
import textwrap

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from strata_engine.analysis import CellAnalysis
from strata_engine.kinds import analyze_cell
from strata_engine.model.diagnostics import Span


def py(source: str) -> CellAnalysis:
    result = analyze_cell("python", textwrap.dedent(source))
    assert result.diagnostics == (), result.diagnostics
    return result


def defines(source: str) -> tuple[str, ...]:
    return py(source).defines


def refs(source: str) -> tuple[str, ...]:
    return py(source).references


# --- defines ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a = 1", ("a",)),
        ("a = b = 1", ("a", "b")),
        ("a, (b, *c) = 1, (2, 3)", ("a", "b", "c")),
        ("[a, b] = 1, 2", ("a", "b")),
        ("a: int = 1", ("a",)),
        ("a: int", ()),
        ("for i, j in pairs: pass", ("i", "j")),
        ("for i in x: pass\nelse: k = 1", ("i", "k")),
        ("with open(p) as f, lock() as (g, h): pass", ("f", "g", "h")),
        ("try: pass\nexcept ValueError as err: pass", ("err",)),
        ("if (n := 10) > 5: pass", ("n",)),
        ("ys = [y := f(v) for v in data]", ("y", "ys")),  # y binds first
        ("f = lambda: (z := 1)", ("f",)),
        ("def f(): pass", ("f",)),
        ("async def f(): pass", ("f",)),
        ("class C: attr = 1", ("C",)),
        ("import a.b.c", ("a",)),
        ("import a.b as c", ("c",)),
        ("import a, b as bee", ("a", "bee")),
        ("from x.y import z as w, v", ("w", "v")),
        ("from m import *", ()),
        ("from . import sibling", ("sibling",)),
        ("if c:\n    a = 1\nelif d:\n    b = 2\nelse:\n    e = 3", ("a", "b", "e")),
        ("while c:\n    a = 1", ("a",)),
        ("try:\n    a = 1\nexcept E:\n    b = 2\nelse:\n    c = 3\nfinally:\n    d = 4", "abcd"),
        ("with ctx:\n    inner = 1", ("inner",)),
        ("_private = 1\npublic = 2", ("public",)),
        ("x = 1\ndel x", ()),
        ("x = 1\ndel x\nx = 2", ("x",)),
        ("b = 1\na = 2\nb = 3", ("b", "a")),
        ("type_ = 1", ("type_",)),
    ],
)
def test_defines(source: str, expected: tuple[str, ...] | str) -> None:
    assert defines(source) == tuple(expected)


def test_match_captures_are_defines_and_values_are_references() -> None:
    source = """
    match command:
        case Point(x=px, y=0) if px > limit:
            pass
        case [first, *rest]:
            pass
        case {"k": kv, **others}:
            pass
        case Color.RED | Color.GREEN as colour:
            pass
        case other:
            pass
    """
    result = py(source)
    assert result.defines == ("px", "first", "rest", "kv", "others", "colour", "other")
    assert result.references == ("command", "Point", "limit", "Color")


def test_global_assignment_inside_function_defines_and_its_own_read_stays_a_reference() -> None:
    # The body reads `counter` before its first call assigns it: the upstream value.
    result = py("def f():\n    global counter\n    counter = counter + 1\n")
    assert result.defines == ("f", "counter")
    assert result.references == ("counter",)


# marimo's visitor tests, the three cases that used to disagree.


def test_walrus_in_comprehension_condition_binds_before_the_element_reads_it() -> None:
    result = py("[(x, y) for x in data if (y := f(x)) > 0]")
    assert result.references == ("data", "f")
    assert result.defines == ("y",)  # PEP 572: bound in the containing scope


def test_global_assignment_in_function_defines_the_name() -> None:
    result = py("def f():\n    global x\n    x = 0\n")
    assert (result.defines, result.references) == (("f", "x"), ())


def test_global_deletion_in_function_references_the_name() -> None:
    result = py("def f():\n    global x\n    del x\n")
    assert (result.defines, result.references) == (("f",), ("x",))


@pytest.mark.parametrize(
    ("source", "defs", "refs_"),
    [
        # the walrus binds in the enclosing scope only once its value is computed
        ("[t := t + v for v in d]", ("t",), ("d", "t")),
        ("[y for x in d if (y := x)]\nprint(y)", ("y",), ("d", "print")),
        ("[[y for _ in r] for x in d if (y := x)]", ("y",), ("d", "r")),
        ("def f():\n    return [y for x in d if (y := x)]", ("f",), ("d",)),
        # a local `del` (no `global`) reads nothing outside
        ("def f():\n    x = 1\n    del x", ("f",), ()),
        # `global` in a nested function, a method, a class body
        ("def f():\n    def g():\n        global x\n        x = 1", ("f", "x"), ()),
        ("def f():\n    global x\n    def g():\n        x = 1", ("f",), ()),
        ("class C:\n    def m(self):\n        global x\n        x = 1", ("x", "C"), ()),
        ("class C:\n    global x\n    x = 1", ("x", "C"), ()),
        ("def f():\n    global x\n    [x := 1 for _ in r]", ("f", "x"), ("r",)),
        ("def f():\n    global _x\n    _x = 1", ("f",), ()),
        # reads after the `def` see its binding; other function bodies still read it lazily
        ("def f():\n    global x\n    x = 1\nprint(x)", ("f", "x"), ("print",)),
        ("print(x)\ndef f():\n    global x\n    x = 1", ("f", "x"), ("print", "x")),
        ("def f():\n    nonlocal_free = 1\n    global x\n    x = 1", ("f", "x"), ()),
    ],
)
def test_walrus_and_global_binding_forms(
    source: str, defs: tuple[str, ...], refs_: tuple[str, ...]
) -> None:
    result = py(source)
    assert (result.defines, result.references) == (defs, refs_)


def test_augmented_assignment() -> None:
    assert py("x += 1").references == ("x",)
    assert py("x += 1").defines == ("x",)
    assert py("x = 0\nx += 1").references == ()


# --- references ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("y = x + 1", ("x",)),
        ("x = 1\ny = x", ()),
        ("x = x + 1", ("x",)),
        ("print(len(data))", ("print", "len", "data")),
        ("a = b.c.d", ("b",)),
        ("a = b[c:d]", ("b", "c", "d")),
        ("f'{a} {b!r:{w}}'", ("a", "b", "w")),
        ("g(*args, key=kw, **extra)", ("g", "args", "kw", "extra")),
        ("[v * k for v in values if v > t]", ("values", "t", "k")),  # evaluation order
        ("{k: v for k, v in pairs}", ("pairs",)),
        ("[[c for c in row] for row in grid]", ("grid",)),
        ("(n for n in nums)", ("nums",)),
        ("[a for a in range(3)]\nprint(a)", ("range", "print", "a")),
        ("f = lambda a, b=dflt: a + b + free", ("dflt", "free")),
        ("f = lambda: later\nlater = 1", ()),
        ("if cond:\n    x = 1\nprint(x)", ("cond", "print")),
        (
            "for i in range(3):\n    if i:\n        print(prev)\n    prev = i",
            ("range", "print", "prev"),
        ),
        ("while (line := read()):\n    total = total + len(line)", ("read", "total", "len")),
        ("try:\n    pass\nexcept (KeyError, MyError):\n    pass", ("KeyError", "MyError")),
        ("assert ok, msg", ("ok", "msg")),
        ("del upstream", ("upstream",)),
        ("global g\ng = 1", ()),
        ("_p = secret\n_q = _p", ("secret",)),
        ("x = _hidden", ()),
        ("await fetch()", ("fetch",)),
        ("async with session() as s:\n    await s.get(url)", ("session", "url")),
        ("async for item in stream():\n    out = item", ("stream",)),
    ],
)
def test_references(source: str, expected: tuple[str, ...]) -> None:
    assert refs(source) == expected


def test_function_free_globals_are_references_unless_the_cell_binds_them() -> None:
    source = """
    def f(a, *args, k=1, **kw):
        local = a + len(args)
        return local + upstream + helper() + later
    def helper():
        return 1
    later = 2
    """
    assert refs(source) == ("len", "upstream")


def test_nested_function_scopes() -> None:
    source = """
    def outer(p):
        q = 1
        def inner():
            nonlocal q
            return p + q + outer_free
        return inner
    """
    assert refs(source) == ("outer_free",)


def test_decorators_defaults_and_annotations_are_read_at_definition() -> None:
    source = """
    @decorate(option)
    def f(a: AType = default, *, b: BType = kwdefault) -> RType:
        return a
    """
    assert refs(source) == ("decorate", "option", "default", "kwdefault", "AType", "BType", "RType")


def test_postponed_annotations_are_not_read() -> None:
    source = """
    from __future__ import annotations
    def f(a: AType) -> RType:
        return a
    value: VType = 1
    """
    assert py(source).references == ()


def test_module_annotation_is_read() -> None:
    assert refs("value: VType = 1") == ("VType",)


def test_class_bases_keywords_body_and_methods() -> None:
    source = """
    class C(Base, metaclass=Meta):
        scale = factor
        doubled = scale * 2
        def method(self):
            return scale + module_level
        ys = [scale for _ in range(2)]
    """
    result = py(source)
    assert result.defines == ("C",)
    # Methods do not see class attributes: `scale` in the method is a global read.
    assert result.references == ("Base", "Meta", "factor", "scale", "module_level", "range")


def test_comprehension_in_class_body_cannot_see_class_attributes() -> None:
    source = (
        "class C:\n    items = [1]\n    ok = [i for i in items]\n    bad = [items for _ in ok]\n"
    )
    # The first iterable runs in the class scope; the rest only sees globals.
    assert refs(source) == ("items",)


def test_class_used_in_its_own_methods_is_not_a_reference() -> None:
    assert refs("class Node:\n    def clone(self):\n        return Node()\n") == ()


def test_walrus_inside_comprehension_reads_before_binding() -> None:
    assert refs("[total := total + v for v in values]") == ("values", "total")


def test_lambda_walrus_is_local_to_the_lambda() -> None:
    assert py("f = lambda: (z := q)").references == ("q",)


def test_builtins_are_included_for_the_graph_to_decide() -> None:
    assert refs("x = list(map(str, items))") == ("list", "map", "str", "items")


def test_reference_spans_point_at_the_first_read() -> None:
    result = analyze_cell("python", "# @name x\n\ny = 1\nz = upstream + upstream\n")
    assert result.references == ("upstream",)
    assert result.reference_span("upstream") == Span(4, 4, 4, 12)
    assert result.reference_span("missing") is None


def test_deferred_function_read_is_ordered_at_its_definition() -> None:
    assert refs("a = first\ndef f():\n    return inside\nb = last") == ("first", "inside", "last")


# --- subscript and attribute assignment ------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "refs_", "defs", "mutated"),
    [
        ('df["c"] = 1', ("df",), ("df",), ("df",)),
        ("obj.x = 1", ("obj",), ("obj",), ("obj",)),
        ('df.loc[mask, "c"] = v', ("v", "df", "mask"), ("df",), ("df",)),
        ("a.b[i].c = 2", ("a", "i"), ("a",), ("a",)),
        ('df["c"] += 1', ("df",), ("df",), ("df",)),
        ('del df["c"]', ("df",), ("df",), ("df",)),
        ("del obj.attr", ("obj",), ("obj",), ("obj",)),
        ('df = load()\ndf["c"] = 1', ("load",), ("df",), ()),
        ("print(df)\ndf.x = 1", ("print", "df"), ("df",), ("df",)),
        ("f().x = 1", ("f",), (), ()),
        ("_tmp.x = 1", (), (), ()),
        ("for row in rows:\n    cache[row] = 1", ("rows", "cache"), ("row", "cache"), ("cache",)),
    ],
)
def test_subscript_and_attribute_assignment_republishes_the_root(
    source: str, refs_: tuple[str, ...], defs: tuple[str, ...], mutated: tuple[str, ...]
) -> None:
    result = py(source)
    assert (result.references, result.defines, result.mutated) == (refs_, defs, mutated)


def test_annotated_attribute_without_value_only_reads() -> None:
    result = py("obj.attr: int")
    assert (result.references, result.defines) == (("obj", "int"), ())


# --- normalization ----------------------------------------------------------------------------


def test_normalized_is_ast_unparse() -> None:
    source = "x = {'a' : 1}   # comment\n\n\nprint( x )\n"
    assert py(source).normalized == ast.unparse(ast.parse(source))


def test_normalized_ignores_comments_whitespace_quotes_and_annotations() -> None:
    a = analyze_cell("python", "# @name one\nx = 'a'  # why\ny=x+1\n")
    b = analyze_cell("python", '# @name two\n# @timeout 5\n\nx = "a"\n\n\ny = x + 1   \n')
    assert a.normalized == b.normalized


def test_normalized_changes_with_code() -> None:
    assert py("x = 1").normalized != py("x = 2").normalized


# --- imports and environment -------------------------------------------------------------------


def test_imports_for_preloading() -> None:
    source = """
    from __future__ import annotations
    import pandas as pd, numpy.linalg
    from sklearn.model_selection import train_test_split
    from . import local
    import pandas
    def f():
        import scipy.stats
    """
    assert py(source).imports == ("pandas", "numpy", "sklearn", "scipy")


def test_env_reads_with_literal_keys() -> None:
    source = """
    import os
    import os as o
    from os import environ as env, getenv as ge
    a = os.environ["A"]
    b = os.environ.get("B", "default")
    c = os.getenv("C")
    d = "D" in os.environ
    e = o.getenv("E")
    f = env["F"]
    g = ge("G")
    h = os.environ[name]
    os.environ["WRITTEN"] = "1"
    a2 = os.environ["A"]
    """
    assert py(source).env_reads == ("A", "B", "C", "D", "E", "F", "G")


def test_env_reads_inside_functions() -> None:
    assert py("def f():\n    return os.getenv('TOKEN')\n").env_reads == ("TOKEN",)


# --- trailing expression -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = 1\nx", True),
        ("display(x)", True),
        ("x = 1", False),
        ("", False),
        ("if c:\n    x", False),
    ],
)
def test_trailing_expression(source: str, expected: bool) -> None:
    assert analyze_cell("python", source).has_trailing_expression is expected


# --- syntax errors ------------------------------------------------------------------------------


def test_syntax_error_has_line_and_column() -> None:
    result = analyze_cell("python", "# @name a\nx = 1\ny = (2,\n", cell_id="c", file="cells/c.py")
    (diag,) = result.diagnostics
    assert diag.code == "syntax_error" and diag.severity == "error"
    assert diag.span is not None and (diag.span.line, diag.span.col) == (3, 4)
    assert "line 3" in diag.message and "column 5" in diag.message
    assert (diag.cell_id, diag.file) == ("c", "cells/c.py")
    assert result.defines == () and result.references == ()
    assert result.normalized == "# @name a\nx = 1\ny = (2,"


@pytest.mark.parametrize(
    "source", ["return 1", "nonlocal x", "break", "def f():\n    x = 1\n    global x", "a\0b"]
)
def test_compile_time_errors_are_syntax_errors(source: str) -> None:
    assert [d.code for d in analyze_cell("python", source).diagnostics] == ["syntax_error"]


def test_very_long_expressions_do_not_crash() -> None:
    result = analyze_cell("python", "x = " + " + ".join(["a"] * 3000))
    assert result.references == ("a",) or [d.code for d in result.diagnostics] == ["syntax_error"]


# --- other languages ---------------------------------------------------------------------------


def test_markdown_has_no_bindings() -> None:
    result = analyze_cell("markdown", "\n# Title   \n\nText with {{ x }} and :y  \n\n")
    assert result == CellAnalysis(normalized="# Title\n\nText with {{ x }} and :y")


def test_sql_binds_and_output_name() -> None:
    text = (
        "# @name recent\n# @sql connection=db\n\n"
        "SELECT a::int, ':skip', \"col:x\" -- :comment\n"
        "FROM t /* :block\n :block2 */ WHERE d > :since AND e = :limit_ AND f = :since\n"
        "  AND g = $$ :dollar $$ AND h = :_private AND ts = '12:30'\n"
    )
    result = analyze_cell("sql", text)
    assert result.defines == ("recent",)
    assert result.references == ("since", "limit_")
    assert result.reference_span("since") == Span(6, 22, 6, 28)
    assert result.normalized.startswith("SELECT a::int")
    assert "@sql" not in result.normalized


@pytest.mark.parametrize(
    ("name_line", "expected"),
    [("", ("result",)), ("# @name my table\n", ()), ("# @name class\n", ()), ("# @name _p\n", ())],
)
def test_sql_and_prompt_output_names(name_line: str, expected: tuple[str, ...]) -> None:
    assert analyze_cell("sql", name_line + "SELECT 1").defines == expected
    assert analyze_cell("prompt", name_line + "Hi").defines == expected


def test_prompt_placeholders() -> None:
    text = "# @model m\nSummarize {{ df }} and {{x.attr}} {{ df }} {{ _p }} { notvar }\n"
    result = analyze_cell("prompt", text)
    assert result.references == ("df", "x")
    assert result.reference_span("x") == Span(2, 25, 2, 26)
    assert result.normalized == "Summarize {{ df }} and {{x.attr}} {{ df }} {{ _p }} { notvar }"


def test_r_cells_are_analyzed_by_r() -> None:
    # R's parser (tests/engine/test_r_cells.py has the rest; needs scripts/setup-r.sh)
    pytest.importorskip("rpy2")
    text = "# @name r\n\nx <- 1   \ny <- x\n\n"
    expected = CellAnalysis(defines=("x", "y"), normalized="x <- 1\ny <- x")
    assert analyze_cell("r", text) == expected
    assert analyze_cell("R", text) == expected


def test_results_are_memoized() -> None:
    text = "x = upstream_memo_test"
    assert analyze_cell("python", text) is analyze_cell("python", text)


# --- properties ----------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "df", "x", "_p", "print", "len", "total"])


def _expressions() -> st.SearchStrategy[str]:
    # f-strings only around names: Python 3.11 rejects nested quotes inside f-strings.
    fstrings = NAMES.map(lambda n: f"f'{{{n}!r:>{{{n}}}}}'")
    leaves = NAMES | st.integers(0, 9).map(str) | st.just("'s'") | fstrings
    return st.recursive(
        leaves,
        lambda e: st.one_of(
            st.tuples(e, st.sampled_from(["+", "*", "and", "<"]), e).map(" ".join),
            st.tuples(e, e).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(e, e).map(lambda t: f"{t[0]}[{t[1]}]"),
            e.map(lambda s: f"({s}).attr"),
            st.tuples(e, NAMES, e).map(lambda t: f"[{t[0]} for {t[1]} in {t[2]}]"),
            st.tuples(NAMES, e).map(lambda t: f"(lambda {t[0]}: {t[1]})"),
            st.tuples(NAMES, e).map(lambda t: f"({t[0]} := {t[1]})"),
        ),
        max_leaves=6,
    )


EXPR = _expressions()


def _statements(depth: int) -> st.SearchStrategy[list[str]]:
    simple = st.one_of(
        st.tuples(NAMES, EXPR).map(lambda t: [f"{t[0]} = {t[1]}"]),
        st.tuples(NAMES, EXPR).map(lambda t: [f"{t[0]} += {t[1]}"]),
        st.tuples(NAMES, EXPR, EXPR).map(lambda t: [f"{t[0]}[{t[1]}] = {t[2]}"]),
        EXPR.map(lambda s: [s]),
        NAMES.map(lambda n: [f"import {n}.sub as {n}"]),
        NAMES.map(lambda n: [f"del {n}"]),
        st.tuples(NAMES, NAMES, EXPR).map(lambda t: [f"{t[0]}, *{t[1]} = {t[2]}"]),
        st.tuples(NAMES, EXPR).map(lambda t: [f"{t[0]}: int = {t[1]}"]),
        st.tuples(
            NAMES, st.sampled_from(["append(1)", "sort()", "pop()", "fillna(0, inplace=True)"])
        ).map(lambda t: [f"{t[0]}.{t[1]}"]),
    )
    if depth == 0:
        return simple
    body = st.lists(_statements(depth - 1), min_size=1, max_size=3).map(
        lambda blocks: ["    " + line for block in blocks for line in block]
    )
    compound = st.one_of(
        st.tuples(EXPR, body).map(lambda t: [f"if {t[0]}:", *t[1]]),
        st.tuples(NAMES, EXPR, body).map(lambda t: [f"for {t[0]} in {t[1]}:", *t[2]]),
        st.tuples(NAMES, NAMES, body).map(lambda t: [f"def {t[0]}({t[1]}):", *t[2]]),
        st.tuples(NAMES, body).map(lambda t: [f"class {t[0]}:", *t[1]]),
        st.tuples(body, NAMES, body).map(
            lambda t: ["try:", *t[0], f"except Exception as {t[1]}:", *t[2]]
        ),
        st.tuples(EXPR, NAMES, body).map(lambda t: [f"with {t[0]} as {t[1]}:", *t[2]]),
        st.tuples(NAMES, NAMES, body).map(
            lambda t: [f"def {t[0]}():", f"    global {t[1]}", *t[2]]
        ),
        st.tuples(EXPR, NAMES, NAMES, body).map(
            lambda t: [
                f"match {t[0]}:",
                f"    case [{t[1]}, *{t[2]}] as whole:",
                *["    " + x for x in t[3]],
            ]
        ),
    )
    return simple | compound


PROGRAMS = st.lists(_statements(2), max_size=6).map(
    lambda blocks: "\n".join(line for block in blocks for line in block) + "\n"
)


@settings(max_examples=200, deadline=None)
@given(PROGRAMS)
def test_analysis_never_crashes_on_generated_python(source: str) -> None:
    result = analyze_cell("python", source)
    try:
        ast.parse(source)
    except SyntaxError:
        assume(False)
    for name in (*result.defines, *result.references, *result.mutated):
        assert name.isidentifier() and not name.startswith("_")
    assert set(result.mutated) <= set(result.references) & set(result.defines)
    assert len(result.reference_spans) == len(result.references)
    assert len(set(result.defines)) == len(result.defines)


@settings(max_examples=100, deadline=None)
@given(PROGRAMS, st.sampled_from(["  # note", "   ", "\t"]), st.integers(0, 3))
def test_normalized_is_stable_under_comments_and_whitespace(
    source: str, suffix: str, blank_lines: int
) -> None:
    base = analyze_cell("python", source)
    assume(not base.diagnostics)
    noisy = "# @name whatever\n# a comment\n" + "\n" * blank_lines
    noisy += "\n".join(line + suffix if line.strip() else line for line in source.splitlines())
    other = analyze_cell("python", noisy)
    assert other.normalized == base.normalized
    assert (other.defines, other.references) == (base.defines, base.references)
    again = analyze_cell("python", base.normalized)
    assert again.normalized == base.normalized


def test_reference_spans_count_characters_not_bytes() -> None:
    analysis = analyze_cell("python", 'label = "héllo"; total = price * 2\n')
    span = analysis.reference_span("price")
    assert span is not None
    assert (span.col, span.end_col) == (25, 30)  # 'é' is one character, two UTF-8 bytes
