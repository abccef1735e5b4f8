"""A cell's mounts as its CellJob carries them (engine side)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from strata_engine.mounts.spec import JobMount, local_directory, uri_scheme

if TYPE_CHECKING:
    from strata_engine.analysis.snapshot import CellView, Snapshot
    from strata_engine.backends.jobs import CellJob

CACHE_DIR = ".strata/mounts"
"""Under the notebook directory: local copies of mounted objects, reused across runs."""


def job_mounts(snapshot: Snapshot, view: CellView) -> tuple[JobMount, ...]:
    directory = snapshot.notebook.directory
    cache = os.path.abspath(directory / CACHE_DIR)
    out = []
    for mount in snapshot.mounts(view):
        uri = mount.uri
        if mount.is_local:
            # The cell process does not know the notebook directory a relative path means.
            uri = "file://" + local_directory(uri, os.path.abspath(directory))
        out.append(JobMount(mount.name, uri, mount.mode, dict(mount.options), cache))
    return tuple(out)


def local_mount_problem(job: CellJob) -> str | None:
    """Why this job cannot go to a remote worker: a `file://` mount would hand it a path on
    this machine (SPEC 13). Completes "worker 'x' at URL ..."; None when it can go."""
    for mount in job.mounts:
        if uri_scheme(mount.uri) == "file":
            return (
                f"cannot mount {mount.name!r} ({mount.uri}): a remote worker is never given a "
                "local path; put the data on s3://, gs:// or az://, or run this cell locally"
            )
    return None
