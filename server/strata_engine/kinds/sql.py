"""SQL cells (SPEC 3, 9): analyzed and diagnosed today; executed from issue [6] on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from strata_engine.analysis.annotations import Annotations
from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.checks import check_name_for_language, check_sql_context
from strata_engine.analysis.text import SQL_BINDS, analyze_placeholders, output_name
from strata_engine.kinds.base import COMMON_KEYS, CellFacts, CellKind
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.manifest import Manifest


class SqlKind(CellKind):
    language = "sql"
    label = "SQL"
    suffix = ".sql"
    annotation_keys = ("sql", "cache", *COMMON_KEYS)
    available = False
    tracking_issue = "issue [6]"
    annotation_docs: ClassVar[Mapping[str, str]] = {
        "sql": "`@sql connection=NAME [write=true]`: run this SQL cell on `[connections.NAME]`; "
        "read-only unless write=true.",
        "cache": "`@cache fingerprint|forever|session|ttl=SECONDS`: SQL cache policy; "
        "`fingerprint` (default) hashes a cheap freshness probe of the referenced tables.",
    }

    def analyze(self, text: str, *, cell_id: str | None, file: str | None) -> CellAnalysis:
        return analyze_placeholders(text, SQL_BINDS, cell_id=cell_id, file=file)

    def check(self, facts: CellFacts) -> list[Diagnostic]:
        ann = facts.annotations
        return [
            *check_name_for_language(facts.cell_id, facts.file, ann, self.language),
            *check_sql_context(
                facts.cell_id,
                facts.file,
                ann,
                language=self.language,
                connection_names=facts.connection_names,
            ),
        ]

    def key_items(
        self, annotations: Annotations, manifest: Manifest | None = None
    ) -> list[tuple[str, object]]:
        items: list[tuple[str, object]] = [("output_name", output_name(annotations.name))]
        sql = {"connection": annotations.sql_connection, "write": annotations.sql_write}
        items.append(("sql", sql))
        if annotations.cache_policy is not None:
            cache = {"policy": annotations.cache_policy, "ttl": annotations.cache_ttl}
            items.append(("cache", cache))
        return items
