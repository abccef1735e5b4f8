"""`strata validate`: every static check of SPEC 11, nothing executed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strata_engine.analysis.snapshot import Snapshot, take_snapshot
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.notebook import load_notebook

_SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


@dataclass
class ValidationResult:
    snapshot: Snapshot

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted(
            self.snapshot.all_diagnostics(),
            key=lambda d: (d.file or "", d.line or 0, _SEVERITY_RANK[d.severity], d.code),
        )

    def count(self, severity: str) -> int:
        return sum(d.severity == severity for d in self.snapshot.all_diagnostics())

    @property
    def valid(self) -> bool:
        return self.count("error") == 0

    def summary_line(self) -> str:
        cells = len(self.snapshot.cells)
        verdict = "valid" if self.valid else "invalid"
        return (
            f"{self.snapshot.notebook.name}: {verdict} ({cells} cells, {self.count('error')} "
            f"errors, {self.count('warning')} warnings, {self.count('info')} info)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "notebook": self.snapshot.notebook.notebook_id,
            "valid": self.valid,
            "errors": self.count("error"),
            "cells": [
                {
                    "id": view.id,
                    "language": view.language,
                    "defines": list(view.analysis.defines),
                    "references": [
                        r
                        for r in view.analysis.references
                        if r in self.snapshot.graph.producers.get(view.id, {})
                    ],
                    "diagnostics": [d.to_json() for d in _ordered(view.diagnostics)],
                }
                for view in self.snapshot.cells.values()
            ],
            "diagnostics": [d.to_json() for d in _ordered(self.snapshot.diagnostics)],
            "summary": {
                "cells": len(self.snapshot.cells),
                "errors": self.count("error"),
                "warnings": self.count("warning"),
                "info": self.count("info"),
            },
        }


def _ordered(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=lambda d: (d.line or 0, _SEVERITY_RANK[d.severity], d.code))


def validate_notebook(directory: Path) -> ValidationResult:
    return ValidationResult(take_snapshot(load_notebook(directory)))
