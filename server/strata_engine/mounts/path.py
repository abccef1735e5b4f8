"""The `pathlib.Path` a cell gets for a mount.

It names the mount's local directory (the cache copy for a read-only mount, a staging
directory for a read-write one), and the data arrives lazily: `os.fspath()` of the path
(what `open()`, pandas and every path-taking library call) fetches the object, or every
object under a directory, before answering. `exists`, `is_file`, `is_dir`, `iterdir`,
`glob` and `rglob` answer from the mount's listing without fetching anything.

Read-only mounts refuse every write through the Path API with PermissionError. pathlib
builds derived paths (`data / "x.csv"`, `.parent`) without calling `__init__`, so the
mount a path belongs to is a class attribute of a subclass made per mount.
"""

from __future__ import annotations

import fnmatch
import io
import os
from collections.abc import Generator, Iterator
from pathlib import PosixPath
from typing import IO, Any, ClassVar, Protocol


class Binding(Protocol):
    name: str
    root: str

    def materialize(self, key: str | None) -> None: ...

    def refuse_write(self, what: str, key: str | None) -> None: ...

    def visible(self) -> set[str]:
        """Every file key visible in the mount (its listing, plus staged files)."""
        ...


class MountPath(PosixPath):
    _binding: ClassVar[Binding]

    def _key(self) -> str | None:
        """This path relative to the mount's root ("" for the root), None outside it."""
        root = self._binding.root
        text = str(self)
        if text == root:
            return ""
        if text.startswith(root + "/"):
            return text[len(root) + 1 :]
        return None

    # -- reading: fetch on first use -------------------------------------------------------
    def __fspath__(self) -> str:
        self._binding.materialize(self._key())
        return str(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # Published downstream as a plain path: the mount's machinery stays in this process.
        return (PosixPath, (str(self),))

    def open(  # type: ignore[override]
        self,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
    ) -> IO[Any]:
        if any(flag in mode for flag in "wax+"):
            self._binding.refuse_write(f"open({mode!r})", self._key())
        if "b" not in mode:
            encoding = io.text_encoding(encoding)
        return open(os.fspath(self), mode, buffering, encoding, errors, newline)

    def resolve(self, strict: bool = False) -> MountPath:
        return self  # already absolute; realpath would fetch the whole mount

    # -- listing: answered from the mount's keys -------------------------------------------
    def _below(self) -> list[str]:
        key = self._key()
        if key is None:
            return []
        prefix = key + "/" if key else ""
        return [k[len(prefix) :] for k in self._binding.visible() if k.startswith(prefix)]

    def exists(self, *, follow_symlinks: bool = True) -> bool:
        return self.is_file() or self.is_dir() if self._key() is not None else super().exists()

    def is_file(self) -> bool:
        key = self._key()
        if key is None:
            return super().is_file()
        return key in self._binding.visible()

    def is_dir(self) -> bool:
        key = self._key()
        if key is None:
            return super().is_dir()
        return key == "" or bool(self._below())

    def iterdir(self) -> Generator[MountPath, None, None]:
        if self._key() is None:
            yield from super().iterdir()
            return
        if not self.is_dir():
            raise NotADirectoryError(f"mount {self._binding.name!r}: {self} is not a directory")
        for child in sorted({rel.split("/", 1)[0] for rel in self._below()}):
            yield self / child

    def glob(self, pattern: str) -> Iterator[MountPath]:  # type: ignore[override]
        wanted = [p for p in pattern.split("/") if p]
        candidates: set[str] = set()
        for rel in self._below():
            parts = rel.split("/")
            candidates.update("/".join(parts[:n]) for n in range(1, len(parts) + 1))
        for rel in sorted(candidates):
            if _glob_match(rel.split("/"), wanted):
                yield self / rel

    def rglob(self, pattern: str) -> Iterator[MountPath]:  # type: ignore[override]
        return self.glob(f"**/{pattern}")

    # -- writing: refused on a read-only mount ---------------------------------------------
    def write_text(self, data: str, *args: Any, **kwargs: Any) -> int:
        self._binding.refuse_write("write_text", self._key())
        return super().write_text(data, *args, **kwargs)

    def write_bytes(self, data: Any) -> int:
        self._binding.refuse_write("write_bytes", self._key())
        return super().write_bytes(data)

    def touch(self, mode: int = 0o666, exist_ok: bool = True) -> None:
        self._binding.refuse_write("touch", self._key())
        super().touch(mode, exist_ok)

    def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        self._binding.refuse_write("mkdir", self._key())
        super().mkdir(mode, parents, exist_ok)

    def unlink(self, missing_ok: bool = False) -> None:
        self._binding.refuse_write("unlink", self._key())
        super().unlink(missing_ok)

    def rmdir(self) -> None:
        self._binding.refuse_write("rmdir", self._key())
        super().rmdir()

    def rename(self, target: Any) -> MountPath:
        self._binding.refuse_write("rename", self._key())
        return super().rename(target)

    def replace(self, target: Any) -> MountPath:
        self._binding.refuse_write("replace", self._key())
        return super().replace(target)

    def chmod(self, mode: int, *, follow_symlinks: bool = True) -> None:
        self._binding.refuse_write("chmod", self._key())
        super().chmod(mode, follow_symlinks=follow_symlinks)

    def symlink_to(self, target: Any, target_is_directory: bool = False) -> None:
        self._binding.refuse_write("symlink_to", self._key())
        super().symlink_to(target, target_is_directory)

    def hardlink_to(self, target: Any) -> None:
        self._binding.refuse_write("hardlink_to", self._key())
        super().hardlink_to(target)


def path_class(binding: Binding) -> type[MountPath]:
    return type("MountPath", (MountPath,), {"_binding": binding})


def _glob_match(parts: list[str], pattern: list[str]) -> bool:
    """pathlib's glob over relative keys: `*` stays within a component, `**` spans any."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return _glob_match(parts, pattern[1:]) or (bool(parts) and _glob_match(parts[1:], pattern))
    return (
        bool(parts)
        and fnmatch.fnmatchcase(parts[0], pattern[0])
        and _glob_match(parts[1:], pattern[1:])
    )
