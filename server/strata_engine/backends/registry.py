"""The backend registry: which backend runs a worker's cells (`place`), and `register`.

Adding a backend: write `backends/<name>.py` (or a package) with a `Backend` subclass, then
add one `register(...)` line below (a declared but unbuilt backend is registered as
`unavailable.UnavailableBackend(name, issue)`, so its cells are refused by name).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from strata_engine.backends.base import LOCAL, Backend, Placement, WorkerConfig
from strata_engine.backends.dask import DaskBackend
from strata_engine.backends.executor import ExecutorBackend
from strata_engine.backends.local.backend import LocalBackend

_REGISTRY: dict[str, Backend] = {}


def register(backend: Backend) -> None:
    _REGISTRY[backend.name] = backend


def place(
    worker: str | None,
    find: Callable[[str], WorkerConfig | None],
    notebook: Path | None = None,
) -> Placement:
    """Where a cell whose effective worker is `worker` runs. `find` looks a name up in
    `[[workers]]`. The built-in `local` needs no entry; any other name must be declared
    and its backend available, or the placement carries the reason it cannot run.
    `notebook`: the notebook directory, whose own environment a backend may honour."""
    name = worker or LOCAL
    spec = find(name)
    if spec is None:
        if name == LOCAL:
            return Placement(LOCAL, None, _REGISTRY[LOCAL], notebook=notebook)
        problem = (
            f"worker '{name}' is not declared in [[workers]] of notebook.toml; declare it "
            "or remove the @worker annotation. The cell was not run locally in its place"
        )
        return Placement(name, None, None, problem)
    backend = _REGISTRY.get(spec.backend)
    if backend is None:
        known = ", ".join(sorted(_REGISTRY))
        problem = (
            f"worker '{name}' has backend '{spec.backend}', which Strata does not know "
            f"(use one of {known}); the cell was not run locally in its place"
        )
        return Placement(name, spec, None, problem)
    if not backend.available:
        problem = (
            f"worker '{name}' uses the '{backend.name}' backend, which is not available in "
            f"this version ({backend.tracking_issue}); the cell was not run locally in its "
            f"place. Remove '@worker {name}' (or the cell's worker) to run it on this machine"
        )
        return Placement(name, spec, backend, problem)
    return Placement(name, spec, backend, notebook=notebook)


register(LocalBackend())
register(ExecutorBackend())
register(DaskBackend())
