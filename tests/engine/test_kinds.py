"""The cell-kind registry, and the extension's language table kept in step with it."""

from __future__ import annotations

import re
from pathlib import Path

from strata_engine.kinds import analyze_cell, kind_for, languages
from strata_engine.model.notebook import LANGUAGES

LANGUAGES_TS = Path(__file__).resolve().parents[2] / "extension" / "src" / "languages.ts"
_ROW = re.compile(
    r"^\s+(\w+): \{ languageId: '[^']+', .*suffix: '([^']+)', markup: (true|false) \}"
)


def test_every_manifest_language_has_exactly_one_kind() -> None:
    assert sorted(languages()) == sorted(LANGUAGES)
    for language in LANGUAGES:
        assert kind_for(language).language == language


def test_the_extension_presents_each_kind_as_the_engine_defines_it() -> None:
    rows = {
        m[1]: (m[2], m[3] == "true")
        for m in map(_ROW.match, LANGUAGES_TS.read_text().splitlines())
        if m is not None
    }
    engine = {lang: (kind_for(lang).suffix, not kind_for(lang).executes) for lang in languages()}
    assert rows == engine


def test_kind_comes_from_the_language_not_the_text() -> None:
    # The same text is a Python cell or a SQL cell depending only on the manifest.
    text = "# @name total\nselect * from t where x = :limit\n"
    assert analyze_cell("sql", text).references == ("limit",)
    assert analyze_cell("sql", text).defines == ("total",)
    assert analyze_cell("python", "x = limit\n").references == ("limit",)
    assert kind_for("sql").available and kind_for("python").available
    assert not kind_for("markdown").executes
