"""Keeping every process a cell starts within reach, so all of them die with the cell.

A cell's process group is not enough: a process started with `start_new_session=True`,
`setsid` or a daemon's double fork leaves it. Two mechanisms close that gap, both used
by the zygote (zygote_server.py), which reports a cell's end only once all are empty:

- Ancestry, everywhere on Linux. The zygote and each cell process are child subreapers
  (prctl), so a process whose parent exits is adopted by the nearest of them instead of
  init: while a cell runs, everything it started stays in its tree; once it has ended, what
  is left becomes a child of the zygote. Any child of the zygote that is neither a running
  cell nor the spare is therefore left over from an ended cell, and is killed.
- A cgroup v2 per cell, where one is writable (root in a container, a delegated subtree).
  The cell process joins `strata-<zygote pid>/cell-<pid>` before any of the cell's code
  runs, so nothing it starts can leave: `cgroup.kill` ends it all at once, even processes
  whose parent still lives outside the cell's group. Not writable: ancestry alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Collection
from pathlib import Path

from strata_engine.model.fsutil import process_alive

_CGROUP_ENV = "STRATA_CELL_CGROUP"
"""Set to "0" to use ancestry alone (tests of the fallback; hosts where cgroups misbehave)."""
_CLOSE_SECONDS = 2.0


def _sweep(root: Path) -> None:
    """Kill and remove what zygotes that died without stopping (SIGKILL) left behind: the
    cells' leftovers then live only until the next zygote starts."""
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            name = entry.name
            if (
                name.startswith("strata-")
                and name[7:].isdigit()
                and not process_alive(int(name[7:]))
            ):
                CellCgroups(entry).close()


def _cgroup2_root() -> Path | None:
    """This process's own cgroup v2 directory, if the unified hierarchy is mounted."""
    try:
        own = next(
            line[3:].strip()
            for line in Path("/proc/self/cgroup").read_text().splitlines()
            if line.startswith("0::")
        )
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except (OSError, StopIteration):
        return None
    for line in mounts:
        fields = line.split()
        if " - cgroup2 " in line and len(fields) > 4:
            root, point = fields[3], fields[4]  # mount root within the hierarchy, mount point
            relative = os.path.relpath(own, root) if own.startswith(root) else None
            if relative is not None and not relative.startswith(".."):
                return Path(point) / relative
    return None


class CellCgroups:
    """One cgroup v2 directory per cell under `strata-<zygote pid>`; absent when unusable."""

    def __init__(self, base: Path) -> None:
        self.base = base

    @staticmethod
    def create(zygote_pid: int) -> CellCgroups | None:
        if os.environ.get(_CGROUP_ENV) == "0":
            return None
        root = _cgroup2_root()
        if root is None:
            return None
        _sweep(root)
        base = root / f"strata-{zygote_pid}"
        try:
            base.mkdir(exist_ok=True)
        except OSError:
            return None  # not delegated to us: ancestry alone
        if not (base / "cgroup.procs").exists():
            with contextlib.suppress(OSError):
                base.rmdir()
            return None
        return CellCgroups(base)

    def join(self) -> None:
        """In a fresh cell process, before the cell's code runs: move into its own cgroup.
        Failure leaves the cell to ancestry alone."""
        cell = self.base / f"cell-{os.getpid()}"
        with contextlib.suppress(OSError):
            cell.mkdir(exist_ok=True)
            (cell / "cgroup.procs").write_text("0")  # "0": the writing process

    def kill(self, pid: int) -> None:
        cell = self.base / f"cell-{pid}"
        try:
            (cell / "cgroup.kill").write_text("1")  # Linux 5.14+
            return
        except FileNotFoundError:
            if not cell.exists():
                return
        except OSError:
            pass
        for member in self._members(cell):  # older kernels: one by one
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(member, signal.SIGKILL)

    def empty(self, pid: int) -> bool:
        """True once no process is left in the cell's cgroup (which is then removed)."""
        cell = self.base / f"cell-{pid}"
        if self._members(cell):
            return False
        with contextlib.suppress(OSError):
            cell.rmdir()
        return True

    def alone(self, pid: int) -> bool:
        """True if no process but `pid` itself is in its cell's cgroup."""
        return set(self._members(self.base / f"cell-{pid}")) <= {pid}

    def close(self) -> None:
        """The zygote is stopping: kill whatever is left and remove the directories."""
        cells = [c for c in self._cells() if c.name.startswith("cell-")]
        for cell in cells:
            self.kill(int(cell.name[5:]))
        give_up = time.monotonic() + _CLOSE_SECONDS
        for cell in cells:
            # Killed processes leave their cgroup a moment later; rmdir fails until then.
            while self._members(cell) and time.monotonic() < give_up:
                time.sleep(0.001)
            with contextlib.suppress(OSError):
                cell.rmdir()
        with contextlib.suppress(OSError):
            self.base.rmdir()

    def _cells(self) -> list[Path]:
        try:
            return [cell for cell in self.base.iterdir() if cell.is_dir()]
        except OSError:
            return []

    @staticmethod
    def _members(cell: Path) -> list[int]:
        try:
            return [int(p) for p in _read(f"{cell}/cgroup.procs").split()]
        except (OSError, ValueError):
            return []


def children_of(pid: int) -> list[int]:
    """The direct children of a single-threaded process."""
    try:
        return [int(p) for p in _read(f"/proc/{pid}/task/{pid}/children").split()]
    except FileNotFoundError:
        return _children_by_scan(pid)  # a kernel without CONFIG_PROC_CHILDREN
    except (OSError, ValueError):
        return []


def has_children(pid: int) -> bool:
    """Whether a process that may have threads has a child (a zombie counts): each thread
    has its own list of the children it started. True when in doubt."""
    if not os.path.exists(f"/proc/{pid}/task/{pid}/children"):
        if not os.path.exists(f"/proc/{pid}"):
            return False  # reaped: what it left is the zygote's child now
        return bool(_children_by_scan(pid))  # a kernel without CONFIG_PROC_CHILDREN
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return False
    except OSError:
        return True
    for tid in threads:
        try:
            if _read(f"/proc/{pid}/task/{tid}/children").strip():
                return True
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        except OSError:
            return True
    return False


def _read(path: str) -> bytes:
    """A small /proc or cgroup file, with bare system calls: the zygote reads these after
    every cell, where Python's file objects cost several times more."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = chunk = os.read(fd, 65536)
        while chunk:  # thousands of children or members: more than one read
            chunk = os.read(fd, 65536)
            data += chunk
        return data
    finally:
        os.close(fd)


def _children_by_scan(pid: int) -> list[int]:
    """Every process's parent from /proc/*/stat: the zygote runs this after each cell, so
    it reads with bare system calls (a third of the cost of Python file objects per
    process; a desktop has hundreds)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
            except OSError:
                continue  # ended meanwhile
            try:
                stat = os.read(fd, 512)
            except OSError:
                continue
            finally:
                os.close(fd)
            # "pid (comm) state ppid ...": comm may hold anything, so split after its ")".
            if int(stat[stat.rfind(b")") + 1 :].split(None, 2)[1]) == pid:
                found.append(int(name))
    return found


def kill_leftovers(zygote_pid: int, keep: Collection[int]) -> bool:
    """Kill the zygote's children that are not in `keep` (running cells, the spare): each
    is left over from an ended cell. True if any was found (their own children are adopted
    by the zygote as they die, so the caller asks again until none is left)."""
    found = False
    for child in children_of(zygote_pid):
        if child not in keep:
            found = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)
    return found
