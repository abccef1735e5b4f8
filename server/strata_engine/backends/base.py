"""What a placement backend is, and where a cell runs (SPEC 2 `[[workers]]`, SPEC 6 item 4).

A backend is keyed by `[[workers]].backend`. It supplies the runtime identity and the
environment fingerprint that go into the cell key, and opens executors that run cells. A
backend that is not built yet is registered with `available = False`: a cell placed on it
fails with an error naming the worker, and nothing runs locally in its place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from strata_engine.backends.jobs import CellJob, CellResult, DisplayCallback, StreamCallback
from strata_engine.cache.provenance import digest_json
from strata_engine.envs import detect

if TYPE_CHECKING:
    from strata_engine.store import BlobStore

LOCAL = "local"
"""The built-in worker and backend: this machine, no `[[workers]]` entry needed."""


class Executor(Protocol):
    """Runs one cell at a time; failures of the cell are results, not exceptions."""

    def run(
        self,
        job: CellJob,
        on_stream: StreamCallback | None = None,
        on_display: DisplayCallback | None = None,
    ) -> CellResult: ...

    def preload(self, modules: Iterable[str]) -> None: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


class WorkerConfig(Protocol):
    """A `[[workers]]` entry as the typed manifest holds it (`model.manifest.WorkerSpec`)."""

    @property
    def name(self) -> str: ...
    @property
    def backend(self) -> str: ...
    @property
    def runtime_id(self) -> str | None: ...
    @property
    def config(self) -> Mapping[str, Any]: ...


class Backend:
    name: str
    available: bool = True
    tracking_issue: str = ""
    """For unavailable backends: the issue that builds them."""
    runs_here: bool = True
    """Its cells run on this machine, so each takes one of `strata run --jobs` slots."""
    parallel: bool = True
    """One worker may run several of its cells at once (each on an executor of its own)."""
    loops: bool = False
    """Its executor runs a `@loop` cell's iterations (CellJob.loop); elsewhere one is refused."""
    languages: frozenset[str] | None = None
    """The cell kinds its executor runs (None: every kind); the others are refused by name."""

    def refusal(self, worker: str, language: str, label: str, loop: bool) -> str | None:
        """Why a `language` cell (a `@loop` one when `loop`) cannot run on `worker`, or None.
        Checked statically, so such a cell is an error before anything runs."""
        if self.languages is not None and language not in self.languages:
            kinds = ", ".join(sorted(self.languages))
            return (
                f"{label} cells cannot run on worker {worker!r}: the {self.name} backend runs "
                f"{kinds} cells only; place this cell on a local worker to run it"
            )
        if loop and not self.loops:
            return (
                f"@loop on worker {worker!r} (backend {self.name}) is not available yet: loop "
                "cells run on this machine only; remove @worker from this cell (or place it on "
                "a local worker) to run it"
            )
        return None

    def environment_fingerprint(self, worker: WorkerConfig | None) -> str:
        """What the cell's interpreter and packages are (SPEC 7), as seen from here."""
        raise NotImplementedError

    def environment_for(self, worker: WorkerConfig | None, notebook: Path | None) -> str:
        """The fingerprint of the environment the cells of the notebook in `notebook` run in
        on `worker`. By default the worker's own; the local backend honours a notebook's own
        pyproject.toml (SPEC 7, `strata_engine.envs`)."""
        return self.environment_fingerprint(worker)

    def open_for(
        self, worker: WorkerConfig | None, blobs: BlobStore, notebook: Path | None
    ) -> Executor:
        """An executor for the cells of the notebook in `notebook` (see `environment_for`)."""
        return self.open(worker, blobs)

    def unresolved_imports(
        self,
        worker: WorkerConfig | None,
        notebook: Path | None,
        language: str,
        modules: tuple[str, ...],
    ) -> tuple[str, ...]:
        """The modules a `language` cell imports that its environment cannot resolve, found
        without running anything (`import_unresolved`). () when the backend cannot tell
        (a remote worker's packages are not visible from here)."""
        return ()

    def runtime_identity(self, worker: WorkerConfig) -> str:
        """SPEC 6 item 4: the worker's `runtime_id`, else its backend + name + config."""
        if worker.runtime_id:
            return worker.runtime_id
        return digest_json([worker.backend, worker.name, dict(worker.config)])

    def open(self, worker: WorkerConfig | None, blobs: BlobStore) -> Executor:
        """A new executor for cells placed on `worker` (None: the built-in local worker)."""
        raise NotImplementedError

    def health(self, worker: WorkerConfig, timeout: float) -> WorkerHealth:
        """Whether `worker` can take cells now, asked over the network within about
        `timeout` seconds (never raises; never call it on an editor's main loop). A backend
        that cannot tell says so rather than claiming health."""
        if not self.available:
            reason = f"the '{self.name}' backend is not available in this version"
            return WorkerHealth(worker.name, self.name, UNHEALTHY, error=reason)
        reason = f"the '{self.name}' backend cannot report its workers' health"
        return WorkerHealth(worker.name, self.name, UNKNOWN, error=reason)


HEALTHY, UNHEALTHY, UNKNOWN = "healthy", "unhealthy", "unknown"


@dataclass(frozen=True)
class WorkerHealth:
    """One `[[workers]]` entry's answer to "can you take cells now?"."""

    worker: str
    backend: str
    status: str
    """HEALTHY, UNHEALTHY (`error` says why, naming where it looked) or UNKNOWN."""
    target: str = ""
    """Where it was asked: the URL or scheduler address, without credentials."""
    version: str | None = None
    protocols: tuple[str, ...] = ()
    workers: int | None = None
    """For a cluster: how many workers the scheduler has."""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.worker, "backend": self.backend}
        out["status"] = self.status
        for key, value in (("target", self.target), ("version", self.version)):
            if value:
                out[key] = value
        if self.protocols:
            out["protocols"] = list(self.protocols)
        if self.workers is not None:
            out["workers"] = self.workers
        if self.error:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class Placement:
    """Where one cell runs: its worker (by name), the worker's entry and backend, or why it
    cannot run anywhere (`problem`)."""

    worker: str
    spec: WorkerConfig | None
    backend: Backend | None
    problem: str | None = None
    notebook: Path | None = None
    """The notebook directory (its own environment, SPEC 7); None: the worker's alone."""
    _memo: dict[str, tuple[int, str]] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )

    def runtime_identity(self) -> str:
        """The worker's identity in the key, as its backend defines it."""
        if self.spec is None:
            return LOCAL if self.worker == LOCAL else f"unknown:{self.worker}"
        return (self.backend or Backend()).runtime_identity(self.spec)

    def environment(self) -> str:
        """The key's environment component: interpreter fingerprint + runtime identity.
        Memoized until the environments are re-checked (`envs.forget`): a snapshot shares
        one placement among the cells of a worker, and 10,000 cells asked ~0.4 ms each."""
        now = detect.generation()
        memo = self._memo.get("environment")
        if memo is None or memo[0] != now:
            memo = (now, _environment_digest(self.fingerprint(), self.runtime_identity()))
            self._memo["environment"] = memo
        return memo[1]

    def environment_with(self, fingerprint: str) -> str:
        """What `environment()` would be under `fingerprint` (run/settled.py checks that the
        interpreter its record binds is the one the keys were made with)."""
        return _environment_digest(fingerprint, self.runtime_identity())

    def fingerprint(self) -> str:
        """The backend's environment fingerprint for this notebook's cells."""
        if self.backend is None:
            return ""
        return self.backend.environment_for(self.spec, self.notebook)

    def open(self, blobs: BlobStore) -> Executor:
        """A new executor for cells placed here (only when `problem` is None)."""
        assert self.backend is not None
        return self.backend.open_for(self.spec, blobs, self.notebook)


@lru_cache(maxsize=256)
def _environment_digest(fingerprint: str, runtime_identity: str) -> str:
    # Every cell's key needs it on every keystroke; a notebook has few distinct workers.
    return digest_json([fingerprint, runtime_identity])
