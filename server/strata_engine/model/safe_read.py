"""Reading notebook files that anyone could have put there: regular files only, bounded.

A FIFO in `cells/` blocks a plain `open()` until some writer appears (it froze `validate`,
`status`, `dag` and the whole language server); a device can have side effects on open; a
54 MB "cell" made every command spin. So the file is stat'ed before it is opened, opened
non-blocking (a FIFO swapped in after the stat cannot block either), checked again on the
open descriptor, and read up to a limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_CELL_BYTES = 5 * 1024 * 1024
"""Cell files are code and prose; data belongs in files the cell reads or in a mount."""
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
"""Far above a 150,000-cell manifest (about 15 MB)."""


class FileRefused(Exception):
    """The file exists but is not something Strata reads: `problem` says what it is,
    `fix` what to do about it (both phrased to follow the file's name)."""

    def __init__(self, problem: str, fix: str, *, too_large: bool = False) -> None:
        super().__init__(f"{problem}; {fix}")
        self.problem, self.fix, self.too_large = problem, fix, too_large


def read_regular_file(path: str | Path, limit: int) -> bytes:
    """The bytes of `path` (symlinks followed) if it is a regular file of at most `limit`
    bytes. Raises FileRefused for anything else, OSError when it cannot be read at all."""
    before = os.stat(path)  # never open what is not a regular file: opening can block
    _check(before.st_mode, before.st_size, limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        opened = os.fstat(fd)
        _check(opened.st_mode, opened.st_size, limit)  # replaced between stat and open
        chunks: list[bytes] = []
        remaining = limit + 1  # one byte more than allowed tells "grew past the limit"
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    _check(stat.S_IFREG, len(data), limit)
    return data


PLAIN_READS = os.open in os.supports_dir_fd and all(
    hasattr(os, flag) for flag in ("O_DIRECTORY", "O_NOFOLLOW", "O_NONBLOCK", "O_CLOEXEC")
)
"""Whether `read_plain_file` can be used here (POSIX; not Windows)."""


def read_plain_file(dir_fd: int, name: str, limit: int) -> bytes | None:
    """The bytes of `name`, a file that a listing of the directory `dir_fd` just showed as a
    regular file (not a symlink): opened relative to the directory, never following a
    symlink, checked after opening, and read up to the size that check gave. None when
    it is no longer such a file, or anything else is unusual: the caller then reads it
    with `read_regular_file`, which says why it cannot. Three system calls fewer per file
    than that (a 10,000-cell notebook reads 10,000 files)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        opened = os.fstat(fd)
        size = opened.st_size
        if not stat.S_ISREG(opened.st_mode) or size > limit:
            return None
        data = os.read(fd, size + 1)
        # Shorter than fstat said (truncated meanwhile) or longer (grew): the careful path.
        return data if len(data) == size else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _check(mode: int, size: int, limit: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "is a directory")  # callers already treat it as missing
    if not stat.S_ISREG(mode):
        raise FileRefused(
            f"is {_kind(mode)}, not a regular file, so Strata does not open it",
            "replace it by a regular file",
        )
    if size > limit:
        raise FileRefused(
            f"is {format_size(size)}, over the {format_size(limit)} limit for this file",
            "keep data out of cell files: write it to a file the cell reads (or a mount) "
            "and keep the cell's code small",
            too_large=True,
        )


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def format_size(size: int) -> str:
    """`5 MiB`, `54.0 MiB (56623104 bytes)`: exact for round limits, both forms otherwise."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            if size % scale == 0:
                return f"{size // scale} {unit}"
            return f"{size / scale:.1f} {unit} ({size} bytes)"
    return f"{size} bytes"
