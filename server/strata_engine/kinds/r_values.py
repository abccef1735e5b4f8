"""R values that have no Python equivalent, as Python sees them. Kept apart from the R
modules so a Python cell can load one without loading R."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RSerialized:
    """An R value (a model, a function, an environment...) as R's `serialize()` bytes: stored
    like any Python value, and unserialized when it reaches another R cell."""

    data: bytes
    r_class: str

    def __repr__(self) -> str:
        return f"<R object of class {self.r_class}, {len(self.data):,} bytes>"
