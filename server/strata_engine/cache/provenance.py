"""Cell keys (SPEC 6); their digests are in digests.py, the environment fingerprint (SPEC 7)
in environment.py.

A key is xxh3-128 over a canonical JSON of everything that decides what a cell computes.
The same components, kept as a `Provenance` record with the last run of each cell, are what
staleness reasons are computed from, so "why is this stale" and "what is the key" can never
disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strata_engine.cache.digests import digest_json as digest_json
from strata_engine.cache.digests import digest_text as digest_text
from strata_engine.cache.environment import environment_fingerprint as environment_fingerprint

KEY_VERSION = "strata-key-v2"
"""v2: the environment component comes from the cell's placement (backend fingerprint +
runtime identity), and v1 entries of cells placed on a remote worker were computed locally:
none of them may ever be served again."""


@dataclass(frozen=True, slots=True)
class Input:
    """A variable a cell reads: from which producer, and the digest it resolved to (None
    while the producer has no current output, e.g. because it is stale). For a function or
    class with a provenance identity (store/identity.py) that identity stands in for the
    blob digest: moved from a cell into a module, it keys the same."""

    name: str
    producer: str
    digest: str | None


_NO_EXTERNAL = digest_json([])


@dataclass(frozen=True, slots=True)
class Provenance:
    language: str
    source: str
    """Digest of the normalized body."""
    annotations: str
    """Digest of the annotations that change what the cell computes."""
    inputs: tuple[Input, ...]
    after: tuple[tuple[str, str | None], ...]
    """(upstream id, its current key or None) for each `@after` upstream."""
    environment: str
    """Interpreter/environment fingerprint plus the worker's runtime identity."""
    env_vars: str
    """Digest of the environment variable values the cell declares or reads."""
    external: tuple[tuple[str, str], ...]
    """(label, fingerprint) of live state outside the notebook the cell depends on: its
    mounts ("mount NAME ...") and what its kind probes (a SQL cell's tables, "sql ...")."""

    @property
    def mounts(self) -> str:
        """The digest of `external` that enters the key (named for SPEC 6 item 6)."""
        if not self.external:
            return _NO_EXTERNAL  # most cells: no mount, no probe
        return digest_json([list(item) for item in self.external])

    @property
    def complete(self) -> bool:
        return all(i.digest is not None for i in self.inputs) and all(
            k is not None for _, k in self.after
        )

    def key(self) -> str | None:
        """The cache key, or None while some input is unknown."""
        if not self.complete:
            return None
        return digest_json([KEY_VERSION, *self._parts()])

    def _parts(self) -> list[object]:
        return [
            self.language,
            self.source,
            self.annotations,
            sorted([i.name, i.digest] for i in self.inputs),
            sorted(list(a) for a in self.after),
            self.environment,
            self.env_vars,
            self.mounts,
        ]

    def to_record(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "source": self.source,
            "annotations": self.annotations,
            "inputs": {i.name: [i.producer, i.digest] for i in self.inputs},
            "after": {cell: key for cell, key in self.after},
            "environment": self.environment,
            "env_vars": self.env_vars,
            "mounts": self.mounts,
            "external": dict(self.external),
        }


@dataclass(frozen=True, slots=True)
class Reason:
    """One link of a stale cell's causality chain (SPEC 10)."""

    kind: str
    """source_changed | upstream_changed | env_changed | mount_changed | after_changed;
    data_changed (a probe of data outside the notebook, e.g. a SQL cell's tables, answered
    differently; `variable` says which); or evicted (ran with this very provenance, but its
    artifacts are gone from the store)"""
    cell: str | None = None
    variable: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"reason": self.kind}
        if self.cell is not None:
            out["cell"] = self.cell
        if self.variable is not None:
            out["variable"] = self.variable
        return out

    def describe(self) -> str:
        if self.kind == "upstream_changed":
            return f"upstream {self.cell} changed ({self.variable})"
        if self.kind == "after_changed":
            return f"@after upstream {self.cell} changed"
        if self.kind in ("mount_changed", "data_changed") and self.variable:
            return f"{self.variable} changed"
        return self.kind.replace("_", " ")


def staleness_reasons(current: Provenance, previous: Mapping[str, Any]) -> list[Reason]:
    """Why `current` differs from the provenance recorded at the cell's last run."""
    reasons: list[Reason] = []
    if (
        current.source != previous.get("source")
        or current.annotations != previous.get("annotations")
        or current.language != previous.get("language")
    ):
        reasons.append(Reason("source_changed"))
    before_inputs = previous.get("inputs", {})
    for item in current.inputs:
        if item.digest is None or before_inputs.get(item.name) != [item.producer, item.digest]:
            reasons.append(Reason("upstream_changed", item.producer, item.name))
    before_after = previous.get("after", {})
    for cell, key in current.after:
        if key is None or before_after.get(cell) != key:
            reasons.append(Reason("after_changed", cell))
    if current.environment != previous.get("environment") or current.env_vars != previous.get(
        "env_vars"
    ):
        reasons.append(Reason("env_changed"))
    if current.mounts != previous.get("mounts"):
        reasons += _external_reasons(current.external, previous.get("external"))
    return reasons


def _external_reasons(
    current: tuple[tuple[str, str], ...], previous: Mapping[str, str] | None
) -> list[Reason]:
    """Which live state changed: a mount (`mount_changed`, naming it) or other probed data
    (`data_changed`). A record from before items were kept says only `mount_changed`."""
    if not isinstance(previous, Mapping):
        return [Reason("mount_changed")]
    changed = [label for label, value in current if previous.get(label) != value]
    changed += [label for label in previous if label not in dict(current)]
    out: list[Reason] = []
    for label in sorted(set(changed)):
        if label.startswith("mount "):
            out.append(Reason("mount_changed", variable=f"mount {label.split()[1]}"))
        else:
            out.append(Reason("data_changed", variable=label))
    return out or [Reason("mount_changed")]
