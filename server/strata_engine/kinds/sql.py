"""SQL cells (SPEC 3, 9): the engine's side (analysis, diagnostics, key, job settings, live
state). What runs in the cell's process is `sql_harness`, through the driver registry in
`sql_drivers/`; `sql_probe` computes the `@cache` part of the key. Nothing here imports a
database driver: a cached SQL cell costs what a cached Python cell costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from strata_engine.analysis.annotations import Annotations, annotation_body
from strata_engine.analysis.cell_analysis import CellAnalysis
from strata_engine.analysis.checks import check_name_for_language, check_sql_context
from strata_engine.analysis.text import SQL_BINDS, analyze_placeholders, output_name
from strata_engine.kinds.base import COMMON_KEYS, CellFacts, CellKind
from strata_engine.model.diagnostics import Diagnostic
from strata_engine.model.manifest import Manifest

# sql_probe (and through it every driver module) is imported by the methods that need it:
# a fully cached run of a notebook without SQL cells never loads the SQL machinery.

if TYPE_CHECKING:
    from strata_engine.analysis.snapshot import CellView
    from strata_engine.model.notebook import Notebook


class SqlKind(CellKind):
    language = "sql"
    label = "SQL"
    suffix = ".sql"
    annotation_keys = ("sql", "cache", *COMMON_KEYS)
    local_harness = "strata_engine.kinds.sql_harness"
    annotation_docs: ClassVar[Mapping[str, str]] = {
        "sql": "`@sql connection=NAME [write=true]`: run this SQL cell on `[connections.NAME]`; "
        "read-only unless write=true (then the statements run in order and the result is a "
        "table of statement, kind, rows_affected).",
        "cache": "`@cache fingerprint|forever|session|ttl=SECONDS`: SQL cache policy; "
        "`fingerprint` (default for read cells) hashes a cheap freshness probe of the data "
        "the query reads, `session` (default for write cells) keeps a result for the life of "
        "this engine process, `ttl` for SECONDS, `forever` until the SQL changes.",
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
        from strata_engine.kinds.sql_probe import connection_config, effective_policy

        config = connection_config(
            annotations.sql_connection, manifest.connections if manifest else {}
        )
        if config is not None:
            # Which database it reads, never how it authenticates (auth stays out of keys).
            identity = {"driver": config.driver, "params": config.params, "options": config.options}
            items.append(("connection", identity))
        policy = effective_policy(annotations.cache_policy, annotations.sql_write)
        items.append(("cache", {"policy": policy, "ttl": annotations.cache_ttl}))
        return items

    def job_config(self, view: CellView, manifest: Manifest) -> Mapping[str, object]:
        from strata_engine.kinds.sql_probe import connection_config

        ann = view.annotations
        config = connection_config(ann.sql_connection, manifest.connections)
        return {
            "connection": config.to_json() if config else _undeclared(ann.sql_connection),
            "write": ann.sql_write,
            "output": output_name(ann.name),
            "body": annotation_body(view.source or ""),
        }

    def live_state(
        self, view: CellView, notebook: Notebook, *, max_age: float
    ) -> list[tuple[str, str]]:
        from strata_engine.kinds.sql_probe import connection_config, effective_policy, live_token

        ann = view.annotations
        policy = effective_policy(ann.cache_policy, ann.sql_write)
        config = connection_config(ann.sql_connection, notebook.manifest.connections)
        base = str(notebook.directory)
        body = view.analysis.normalized
        token = live_token(policy, ann.cache_ttl, config, base, body, max_age=max_age)
        return [(f"sql {ann.sql_connection} @cache {policy}", token)]

    def preload(self, analysis: CellAnalysis) -> tuple[str, ...]:
        return ("strata_engine.kinds.sql_harness", "pyarrow", "duckdb")


def _undeclared(name: str | None) -> dict[str, object]:
    """A connection the harness refuses by name (sql_connection_unknown is a warning, so the
    cell can reach a run)."""
    return {"name": name or "", "driver": "", "params": {}, "auth": {}, "options": {}}
