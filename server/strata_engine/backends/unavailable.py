"""Backends that SPEC 2 declares but this version does not build: registered so that a cell
placed on one is refused by name, never run somewhere else."""

from __future__ import annotations

from strata_engine.backends.base import Backend


class UnavailableBackend(Backend):
    available = False

    def __init__(self, name: str, tracking_issue: str) -> None:
        self.name = name
        self.tracking_issue = tracking_issue

    def environment_fingerprint(self, worker: object) -> str:
        return f"unavailable:{self.name}"
