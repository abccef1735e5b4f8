"""Writing notebook.toml so a structural edit is a minimal diff of the committed file.

The new document is merged into the existing text with `tomlkit`, which keeps comments,
key order, quoting and the style of the cell list (`[[cells]]` tables or an inline
`cells = [...]` array). Only values that changed are rewritten; cells are matched by id, so
adding a cell appends one entry and deleting one removes only its entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array, InlineTable, Table


def merge_manifest(text: str, document: Mapping[str, Any]) -> str:
    """`text` changed as little as possible so that it parses to `document`."""
    parsed = tomlkit.parse(text)
    _merge_table(parsed, document)
    return tomlkit.dumps(parsed)


def _merge_table(target: Any, wanted: Mapping[str, Any]) -> None:
    for key in [k for k in target if k not in wanted]:
        del target[key]
    for key, value in wanted.items():
        if key not in target:
            target[key] = value
        elif key == "cells" and isinstance(value, list):
            _merge_cells(target[key], value, target, key)
        elif _plain(target[key]) == value:
            continue
        elif isinstance(value, Mapping) and isinstance(target[key], Table | InlineTable):
            _merge_table(target[key], value)
        elif _extends_tables(target[key], value):
            _merge_by_position(target[key], value)
        else:
            target[key] = value


def _extends_tables(current: Any, wanted: Any) -> bool:
    """An array of tables (`[[variant_group]]`) whose entries stay, changed or appended."""
    return (
        isinstance(current, AoT)
        and isinstance(wanted, list)
        and len(wanted) >= len(current)
        and all(isinstance(entry, Mapping) for entry in wanted)
    )


def _merge_by_position(current: AoT, wanted: list[Any]) -> None:
    """Each existing table edited in place (its comments and key order kept), new ones
    appended: choosing a variant rewrites one `active` line."""
    for index, entry in enumerate(wanted):
        if index < len(current):
            _merge_table(current[index], entry)
        else:
            _append_table(current, entry)


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _merge_cells(current: Any, wanted: list[Any], parent: Any, key: str) -> None:
    if not isinstance(current, AoT | Array):
        parent[key] = wanted
        return
    wanted_ids = [c.get("id") for c in wanted]
    for index in reversed(range(len(current))):
        if _plain(current[index]).get("id") not in wanted_ids:
            del current[index]
    present = {_plain(entry).get("id"): entry for entry in current}
    for entry in wanted:
        existing = present.get(entry.get("id"))
        if existing is not None:
            _merge_table(existing, entry)
        elif isinstance(current, AoT):
            _append_table(current, entry)
        else:
            inline = tomlkit.inline_table()
            inline.update(entry)
            current.append(inline)


def _append_table(tables: AoT, entry: Mapping[str, Any]) -> None:
    """Append a [[cells]] table separated by a blank line, as a person would write it: the
    new table takes over the previous last table's trailing blank line (which separates the
    list from what follows), or the previous table gets one."""
    table = tomlkit.table()
    table.update(entry)
    if len(tables):
        previous = tables[-1]
        if previous.as_string().endswith("\n\n"):
            table.add(tomlkit.nl())
        else:
            previous.add(tomlkit.nl())
    tables.append(table)
