"""R cells (SPEC 3, 9): their body is hashed today; executed from issue [8] on."""

from __future__ import annotations

from strata_engine.kinds.base import COMMON_KEYS, CellKind


class RKind(CellKind):
    language = "r"
    label = "R"
    suffix = ".R"
    annotation_keys = (*COMMON_KEYS, "mount")
    available = False
    tracking_issue = "issue [8]"
