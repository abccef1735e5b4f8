"""Provenance identity of a published function or class, apart from its blob's digest.

A function defined in a cell is pickled by value, one imported from a module by reference,
so the same function has two blob digests: promoting a cell to a module would change the
key of every cell reading it. A downstream key therefore hashes this identity, when there is
one, instead of the digest (SPEC 6 item 3); the blob stays addressed by its digest.

The identity of a top-level function or class is a digest over its qualified name, the AST of
its definition (no line/column attributes: a dedent or a moved file keeps it), its future
flags, and what every global name it references resolves to now: a module by name (a module
outside the installed environment by its file's content too), another function or class by
its own identity (cycles cut by name: every member's source is still inside the outermost
identity), a builtin or an installed package's function or class by reference (the
environment fingerprint covers those), any other value by its content digest. `K = 3;
def f(x): return x * K` changing K therefore changes f's identity.

Correctness first: no identity (the caller keys by the digest) for lambdas, closures,
decorated definitions, nested definitions, functions carrying attributes, classes with a
metaclass or attributes it cannot vouch for, a definition whose source cannot be found, or a
source whose compiled code differs from the code that runs (the file changed after import).
Referenced values that are large tables, unpicklable, or more than _MAX_OBJECTS objects
deep refuse it too.
"""

from __future__ import annotations
import __future__

import ast
import builtins
import linecache
import os
import site
import sys
import sysconfig
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import xxhash

from strata_engine.analysis.module_globals import module_globals

VERSION = "strata-identity-v1"
_MAX_OBJECTS = 256
_MAX_VALUE_BYTES = 16 * 1024 * 1024
# Tables referenced as globals: hashing them per published function is not worth it.
_TABLE_PACKAGES = frozenset({"pandas", "pyarrow", "numpy", "polars"})
# The engine's helpers injected into cells (display, Markdown) belong to the runtime.
_RUNTIME_PACKAGES = frozenset({"strata_engine"})
_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag
# Set by `class` itself or derived from the source the identity already hashes.
_CLASS_BOOKKEEPING = frozenset(
    {
        "__module__",
        "__qualname__",
        "__doc__",
        "__dict__",
        "__weakref__",
        "__annotations__",
        "__orig_bases__",
        "__slots__",
        "__firstlineno__",
        "__static_attributes__",
    }
)
_Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


class _NoIdentity(Exception):
    """The value gets no identity; its digest keys it."""


def identity_of(value: object) -> str | None:
    """The provenance identity of a function or class defined outside the installed
    environment (in a cell or a project module); None for anything else or when it cannot
    be vouched for."""
    if not isinstance(value, types.FunctionType | type):
        return None
    if _installed(value.__module__):
        return None  # pickled by reference: the digest is already stable
    try:
        return _Identifier().of(value)
    except _NoIdentity:
        return None
    except (SyntaxError, ValueError, RecursionError, OSError, TypeError):
        return None  # an unreadable or odd definition: the digest is always correct


class _Identifier:
    def __init__(self) -> None:
        self.visits = 0
        self.active: set[int] = set()

    def of(self, obj: types.FunctionType | type) -> str:
        self.visits += 1
        if self.visits > _MAX_OBJECTS:
            raise _NoIdentity("too many objects")
        if id(obj) in self.active:
            return f"cycle:{obj.__qualname__}"
        self.active.add(id(obj))
        try:
            parts = self._function(obj) if isinstance(obj, types.FunctionType) else self._class(obj)
        finally:
            self.active.discard(id(obj))
        return _digest_json([VERSION, *parts])

    def _function(self, fn: types.FunctionType) -> list[object]:
        code = fn.__code__
        if (
            fn.__closure__
            or fn.__dict__
            or "." in fn.__qualname__
            or code.co_qualname != fn.__qualname__
            or fn.__name__ == "<lambda>"
        ):
            raise _NoIdentity("closure, attributes, lambda, nested or renamed")
        node, compiled, (dump, names) = _definition(
            code.co_filename, fn.__globals__, fn.__name__, code.co_firstlineno
        )
        if node.decorator_list or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            raise _NoIdentity("decorated")
        _verify(compiled, code)
        flags = compiled.co_flags & _FUTURE_FLAGS
        return [
            "function",
            fn.__qualname__,
            dump,
            flags,
            self._names(names, fn.__globals__),
            self._defaults(fn),
        ]

    def _class(self, cls: type) -> list[object]:
        module = sys.modules.get(cls.__module__)
        if type(cls) is not type or "." in cls.__qualname__ or module is None:
            raise _NoIdentity("metaclass or nested")
        members = _members(cls)
        files = {fn.__code__.co_filename for _, fn in members}
        filename = files.pop() if len(files) == 1 else getattr(module, "__file__", None)
        if not filename or files:
            raise _NoIdentity("no single source file")
        node, compiled, (dump, names) = _definition(filename, vars(module), cls.__name__, None)
        if node.decorator_list or not isinstance(node, ast.ClassDef):
            raise _NoIdentity("decorated")
        flags = compiled.co_flags & _FUTURE_FLAGS
        body = _class_body(compiled, cls)
        methods: list[object] = []
        for attribute, fn in members:
            # Which code of the class body it runs: `A.m = A.n` changes the identity.
            where = _position(body, fn.__code__)
            methods.append([attribute, where, self._method(cls, fn)])
        seen = {attribute for attribute, _ in members}
        attributes = [
            [name, self._value(value)]
            for name, value in sorted(vars(cls).items())
            if name not in seen and name not in _CLASS_BOOKKEEPING and not _slot(cls, value)
        ]
        return [
            "class",
            cls.__qualname__,
            dump,
            flags,
            self._names(names, vars(module)),
            [self._value(base) for base in cls.__bases__],
            methods,
            attributes,
        ]

    def _method(self, cls: type, fn: types.FunctionType) -> list[object]:
        # super() gives a method the class itself as its only closure cell.
        cells = fn.__closure__ or ()
        if fn.__dict__ or any(c.cell_contents is not cls for c in cells):
            raise _NoIdentity("method closure or attributes")
        if cells and fn.__code__.co_freevars != ("__class__",):
            raise _NoIdentity("method closure")
        return self._defaults(fn)

    def _names(self, names: Iterable[str], namespace: Mapping[str, Any]) -> list[list[str]]:
        out = []
        for name in sorted(names):
            if name in namespace:
                out.append([name, self._value(namespace[name])])
            else:
                out.append([name, "builtin" if hasattr(builtins, name) else "undefined"])
        return out

    def _defaults(self, fn: types.FunctionType) -> list[object]:
        """Defaults are evaluated once, at definition: their values, not their source."""
        keywords = sorted((fn.__kwdefaults__ or {}).items())
        return [
            [self._value(v) for v in fn.__defaults__ or ()],
            [[name, self._value(v)] for name, v in keywords],
        ]

    def _value(self, value: object) -> str:
        if isinstance(value, types.ModuleType):
            return _module(value)
        if isinstance(value, types.FunctionType | type):
            if _installed(value.__module__) or value.__module__ == "builtins":
                return _reference(value)
            return "id:" + self.of(value)
        if isinstance(value, types.BuiltinFunctionType):
            if value.__self__ is None or isinstance(value.__self__, types.ModuleType):
                return _reference(value)
            raise _NoIdentity("a bound builtin method")
        return _content(value)


def _members(cls: type) -> list[tuple[str, types.FunctionType]]:
    """The class's own functions (under staticmethod, classmethod, property too)."""
    found: list[tuple[str, types.FunctionType]] = []
    for name, value in vars(cls).items():
        inner: list[object] = [value]
        if isinstance(value, staticmethod | classmethod):
            inner = [value.__func__]
        elif isinstance(value, property):
            inner = [f for f in (value.fget, value.fset, value.fdel) if f is not None]
        found += [(name, f) for f in inner if isinstance(f, types.FunctionType)]
    return found


def _slot(cls: type, value: object) -> bool:
    return isinstance(value, types.MemberDescriptorType) and value.__objclass__ is cls


def _definition(
    filename: str, namespace: Mapping[str, Any], name: str, firstlineno: int | None
) -> tuple[_Def, types.CodeType, tuple[str, frozenset[str]]]:
    """The one definition of `name` in the source that ran (a cell's source is in linecache
    under its filename; a module's file is read through it), that whole source compiled
    (alone, a definition can compile differently: 3.11 calls a method of an imported module
    with LOAD_ATTR, of another global with LOAD_METHOD), and the definition's normalized
    AST and global names."""
    linecache.checkcache(filename)  # a file edited since: read as it is now, then verified
    lines = linecache.getlines(filename, dict(namespace))
    if not lines:
        raise _NoIdentity("source not found")
    source = _parsed("".join(lines), filename)
    found = [
        node
        for node in source.definitions.get(name, [])
        if firstlineno is None or _first_line(node) == firstlineno
    ]
    if len(found) != 1:
        raise _NoIdentity("definition not found or ambiguous")
    node = found[0]
    facts = source.facts.get(id(node))
    if facts is None:
        reads = frozenset(module_globals(node, assigned=False))
        facts = source.facts[id(node)] = (ast.dump(node), reads)
    return node, source.compiled, facts


@dataclass(frozen=True, slots=True)
class _Source:
    compiled: types.CodeType
    definitions: dict[str, list[_Def]]
    facts: dict[int, tuple[str, frozenset[str]]]
    """id(definition) -> its ast.dump and global names, as computed (the tree lives here)."""
    tree: ast.Module


@lru_cache(maxsize=16)
def _parsed(text: str, filename: str) -> _Source:
    """A file parsed and compiled once per process, however many of its definitions are
    published (the tree is only read)."""
    tree = ast.parse(text, filename)
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT  # as a cell is compiled; no effect on a module's
    compiled: types.CodeType = compile(tree, filename, "exec", flags=flags, dont_inherit=True)
    definitions: dict[str, list[_Def]] = {}
    for node in ast.walk(tree):
        if isinstance(node, _Def):
            definitions.setdefault(node.name, []).append(node)
    return _Source(compiled, definitions, {}, tree)


def _first_line(node: _Def) -> int:
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _verify(compiled: types.CodeType, running: types.CodeType) -> None:
    """The source compiles to the code that runs, else it is not what ran."""
    stack = [compiled]
    while stack:
        code = stack.pop()
        if (
            code.co_name == running.co_name
            and code.co_firstlineno == running.co_firstlineno
            and _shape(code) == _shape(running)
        ):
            return
        stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    raise _NoIdentity("the source is not the code that runs")


def _class_body(compiled: types.CodeType, cls: type) -> types.CodeType:
    bodies = [
        c
        for c in compiled.co_consts
        if isinstance(c, types.CodeType) and c.co_qualname == cls.__qualname__
    ]
    if len(bodies) != 1:
        raise _NoIdentity("not a top-level class")
    return bodies[0]


def _position(body: types.CodeType, running: types.CodeType) -> int:
    """The index of `running` among the class body's constants (the source decides it)."""
    for index, code in enumerate(body.co_consts):
        if (
            isinstance(code, types.CodeType)
            and code.co_firstlineno == running.co_firstlineno
            and _shape(code) == _shape(running)
        ):
            return index
    raise _NoIdentity("a method not defined in the class body")


def _shape(code: types.CodeType) -> tuple[object, ...]:
    """A code object without its position (file, line numbers)."""
    consts = tuple(_shape(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return (
        code.co_code,
        consts,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
        code.co_qualname,
    )


def _module(module: types.ModuleType) -> str:
    if sys.modules.get(module.__name__) is not module:
        raise _NoIdentity("a module object not in sys.modules")
    if _installed(module.__name__):
        return f"module:{module.__name__}"
    file = getattr(module, "__file__", None)
    if not file:
        raise _NoIdentity("a project module without a file")
    with open(file, "rb") as handle:
        return f"module:{module.__name__}:{xxhash.xxh3_128_hexdigest(handle.read())}"


def _reference(value: types.FunctionType | type | types.BuiltinFunctionType) -> str:
    module = getattr(value, "__module__", None) or "builtins"
    if "<locals>" in value.__qualname__:
        raise _NoIdentity("a nested definition of an installed package")
    return f"ref:{module}:{value.__qualname__}"


def _content(value: object) -> str:
    """The content digest of a plain value, the way the store would encode it."""
    from strata_engine.store.codecs import is_json_exact, json_bytes

    if type(value).__module__.partition(".")[0] in _TABLE_PACKAGES:
        raise _NoIdentity("a table")
    if is_json_exact(value):
        encoded = json_bytes(value)
        if encoded is not None:
            return "json:" + xxhash.xxh3_128_hexdigest(encoded)
    import cloudpickle

    try:
        data = cloudpickle.dumps(value)
    except Exception as exc:  # whatever the value's reducers raise
        raise _NoIdentity("unpicklable") from exc
    if len(data) > _MAX_VALUE_BYTES:
        raise _NoIdentity("too large")
    return "pickle:" + xxhash.xxh3_128_hexdigest(data)


def _installed(module_name: str | None) -> bool:
    """From the standard library, site-packages, or the engine: the environment
    fingerprint (SPEC 7) covers it."""
    if not module_name:
        return False
    if module_name.partition(".")[0] in _RUNTIME_PACKAGES:
        return True
    if module_name in sys.builtin_module_names:
        return True
    module = sys.modules.get(module_name)
    spec = getattr(module, "__spec__", None)
    if getattr(spec, "origin", None) == "frozen":
        return True
    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = os.path.realpath(file)
    return any(path.startswith(root + os.sep) for root in _install_roots())


@cache
def _install_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    roots += site.getsitepackages()
    if site.ENABLE_USER_SITE:
        roots.append(site.getusersitepackages())
    return tuple(sorted({os.path.realpath(r) for r in roots}))


def _digest_json(value: object) -> str:
    import json

    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))
