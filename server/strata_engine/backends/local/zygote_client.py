"""The engine's handle on one zygote process (zygote_server.py): spawn, talk, stop."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import strata_engine
from strata_engine.backends.local import prestart
from strata_engine.backends.local.protocol import Message, recv_message, send_message

_SITE_DIRS = ("site-packages", "dist-packages")


class ZygoteLost(ConnectionError):
    """The zygote is gone (or the channel to it broke); a new one has to be started."""


class ZygoteClient:
    """One running zygote. `send` is thread-safe; `recv` belongs to the thread running a cell."""

    def __init__(self, python: str, preload: Iterable[str] = ()) -> None:
        engine_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # The zygote's own stderr (startup failures, preload warnings) is kept to explain a
        # death; its stdout is never inherited, as the language server speaks LSP on ours.
        self._log = _anonymous_file()
        try:
            self._process = subprocess.Popen(
                [
                    python,
                    "-m",
                    "strata_engine.backends.local.zygote_server",
                    "--fd",
                    str(zygote_end.fileno()),
                ],
                pass_fds=(zygote_end.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._log,
                # Own session: a Ctrl-C in the engine's terminal must not kill the warm worker.
                start_new_session=True,
                env=zygote_environment(python),
                cwd="/",
            )
        except BaseException:
            engine_end.close()
            self._log.close()
            raise
        finally:
            zygote_end.close()
        self._sock = engine_end
        self._send_lock = threading.Lock()
        self.lost = False
        self.stopped = False
        """It said it killed everything it started (asked only by a process about to end)."""
        modules = list(preload)
        if modules:
            # ZygoteLost: it died at once (a broken interpreter); the run that started it
            # finds out when it sends the job, and reports the zygote's last words.
            with contextlib.suppress(ZygoteLost):
                self.send({"op": "preload", "modules": modules})

    @property
    def pid(self) -> int:
        return self._process.pid

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, message: Mapping[str, Any], fds: Sequence[int] = ()) -> None:
        with self._send_lock:
            if self.lost:
                raise ZygoteLost("the zygote is gone")
            try:
                send_message(self._sock, message, fds)
            except OSError as exc:
                self.lost = True
                raise ZygoteLost(str(exc)) from exc
            except BaseException:
                # Interrupted (Ctrl-C) possibly mid-message: the stream can no longer be trusted.
                self.lost = True
                raise

    def recv(self) -> Message | None:
        """The next message; None once the zygote is gone."""
        try:
            received = recv_message(self._sock)
        except (OSError, ValueError):
            received = None
        except BaseException:
            self.lost = True  # as in send: a message may be half read
            raise
        if received is None:
            self.lost = True
            return None
        message, fds = received
        for fd in fds:  # the zygote never sends descriptors; do not leak any
            os.close(fd)
        return message

    def kill(self) -> None:
        """Stop it now (thread-safe); the reader then sees the connection close."""
        self.lost = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._process.pid, signal.SIGKILL)

    def close(self, timeout: float = 5.0) -> None:
        """Ask it to stop (it kills any running cell), then make sure it did: it exited, or,
        in a process about to end (`prestart.ending`), it said everything it started is
        killed, and the kernel freeing its memory (~30-50 ms with pandas) is left behind."""
        with contextlib.suppress(ZygoteLost):
            self.send({"op": "shutdown"})
        if prestart.ending() and self._said_stopped(timeout):
            self._sock.close()
            self._log.close()
            threading.Thread(target=self._process.wait, daemon=True).start()  # no zombie
            return
        self._sock.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self._process.wait()
        self._log.close()

    def _said_stopped(self, timeout: float) -> bool:
        self._sock.settimeout(timeout)
        while (message := self.recv()) is not None:
            if message.get("op") == "stopped":
                self.stopped = True
                return True
        return False

    def log_tail(self, limit: int = 2000) -> str:
        """The end of what the zygote wrote to stderr, to explain why it died."""
        try:
            size = os.fstat(self._log.fileno()).st_size
            data = os.pread(self._log.fileno(), limit, max(0, size - limit))
        except (OSError, ValueError):
            return ""
        return data.decode("utf-8", "replace").strip()


def _anonymous_file() -> io.FileIO:
    """A temporary file without a name (it lives as long as the zygote). Not `tempfile`:
    importing it delayed a first run's worker start by ~6 ms."""
    where = os.environ.get("TMPDIR") or "/tmp"
    try:
        fd = os.open(where, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (AttributeError, OSError):  # no O_TMPFILE here, or the filesystem lacks it
        import tempfile

        fd, path = tempfile.mkstemp(prefix="strata-zygote-")
        os.unlink(path)
    return io.FileIO(fd, "r+")


def zygote_environment(python: str) -> dict[str, str]:
    """The environment variables of a zygote (and of its cells) run by `python`."""
    env = dict(os.environ)
    venv = Path(python).parent.parent
    if python != sys.executable and (venv / "pyvenv.cfg").is_file():
        # A notebook's own venv (SPEC 7): a cell's `subprocess.run(["python", ...])` or pip
        # should find that venv, as in an activated shell.
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = os.pathsep.join(p for p in (str(venv / "bin"), env.get("PATH")) if p)
    # The zygote must import this very package even when the engine found it through its
    # own sys.path (a cwd, an editable checkout). A site-packages directory is left alone:
    # putting a whole foreign site-packages on another interpreter's path would mix installs.
    root = Path(strata_engine.__file__).resolve().parent.parent
    if root.name not in _SITE_DIRS:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    elif python != sys.executable and not (venv / "strata-engine").is_dir():
        # Another interpreter that Strata did not provision (one chosen in the editor,
        # envs/chosen.py) sees only strata_engine, through a directory holding a link to it.
        from strata_engine.envs.chosen import engine_link_dir

        with contextlib.suppress(OSError):  # then choosing it says strata_engine is missing
            link = str(engine_link_dir())
            env["PYTHONPATH"] = os.pathsep.join(p for p in (link, env.get("PYTHONPATH")) if p)
    return env
