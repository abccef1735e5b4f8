"""Facts about a parsed Python cell beyond its bindings: imports and environment reads."""

from __future__ import annotations

import ast

_OS_NAMES = frozenset({"os"})
# A cell may use `environ`/`getenv` imported by another cell's `from os import ...`; a
# false match only adds an environment value to the key, it never hides a dependency.
_ENVIRON_NAMES = frozenset({"environ"})
_GETENV_NAMES = frozenset({"getenv"})


def imported_packages(tree: ast.Module) -> tuple[str, ...]:
    """Top-level packages imported anywhere in the cell, in source order, deduplicated."""
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, node.col_offset, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            root = node.module.split(".")[0]
            if root != "__future__":  # a compiler directive, nothing to preload
                found.append((node.lineno, node.col_offset, root))
    found.sort(key=lambda item: item[:2])  # stable: names of one statement keep their order
    return tuple(dict.fromkeys(name for _, _, name in found))


def env_reads(tree: ast.Module) -> tuple[str, ...]:
    """Literal environment keys the cell reads (SPEC 6 item 5), in source order."""
    os_names, environ_names, getenv_names = set(_OS_NAMES), set(_ENVIRON_NAMES), set(_GETENV_NAMES)
    candidates: list[ast.Subscript | ast.Call | ast.Compare] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names.update(a.asname or a.name for a in node.names if a.name == "os")
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and node.level == 0:
            environ_names.update(a.asname or a.name for a in node.names if a.name == "environ")
            getenv_names.update(a.asname or a.name for a in node.names if a.name == "getenv")
        elif isinstance(node, ast.Subscript | ast.Call | ast.Compare):
            candidates.append(node)
    matcher = _EnvMatcher(os_names, environ_names, getenv_names)
    keys = [(n.lineno, n.col_offset, k) for n in candidates if (k := matcher.key(n)) is not None]
    keys.sort(key=lambda item: item[:2])
    return tuple(dict.fromkeys(key for _, _, key in keys))


class _EnvMatcher:
    def __init__(self, os_names: set[str], environ_names: set[str], getenv: set[str]) -> None:
        self.os_names, self.environ_names, self.getenv_names = os_names, environ_names, getenv

    def key(self, node: ast.AST) -> str | None:
        """The literal key `node` reads from the environment, if it is such a read."""
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            return _literal(node.slice) if self.is_environ(node.value) else None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if self.is_getenv(func) or (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and self.is_environ(func.value)
            ):
                return _literal(node.args[0])
            return None
        if (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.In | ast.NotIn)
            and self.is_environ(node.comparators[0])
        ):
            return _literal(node.left)
        return None

    def is_environ(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.environ_names
        return self._is_os_attr(node, "environ")

    def is_getenv(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.getenv_names
        return self._is_os_attr(node, "getenv")

    def _is_os_attr(self, node: ast.AST, attr: str) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == attr
            and isinstance(node.value, ast.Name)
            and node.value.id in self.os_names
        )


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
