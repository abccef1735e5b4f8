"""The `strata/notebookState` notification of one notebook, as last sent.

Every cell's state goes out whenever one changes: typing in code changes the edited cell's
key on each keystroke. On 2,000 cells, building that payload and encoding it as JSON cost
a keystroke ~10 ms, so the entries are kept with their JSON text, and an edit replaces just
the entries of the cells it redid (`Incremental.changed`) before joining the texts.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from strata_engine.cache.state import CellStatus

from .convert import state_entry, state_payload


@dataclass(eq=False)
class SentStates:
    name: str
    payload: dict[str, Any] | None = None
    """The last payload sent (its entries are shared with `memo`: never modify them)."""
    texts: list[str] | None = None
    """The JSON of each entry of `payload` (None: not encoded yet)."""
    index: dict[str, int] = field(default_factory=dict)
    """Cell id -> its position in `payload`'s cells."""
    memo: dict[str, tuple[CellStatus, dict[str, Any]]] = field(default_factory=dict)
    """Each cell's last status and its JSON (see convert.state_payload)."""
    encoded: dict[int, tuple[dict[str, Any], str]] = field(default_factory=dict)
    """id(entry) -> (the entry, its JSON text): after a full payload, most entries are the
    memo's objects of before, so their texts are not encoded again."""

    def full(
        self,
        states: dict[str, CellStatus],
        running: set[str],
        placements: dict[str, dict[str, str]],
    ) -> dict[str, Any] | None:
        """The payload of every cell's state, or None when it is the one last sent."""
        self.index = {cell_id: at for at, cell_id in enumerate(states)}
        if len(self.memo) > 2 * len(states):
            self.memo.clear()  # cells were removed or renamed
        payload = state_payload(self.name, states, running, placements, self.memo)
        if payload == self.payload:
            return None
        self.payload, self.texts = payload, None
        return payload

    def replaced(
        self,
        cells: Collection[str],
        states: dict[str, CellStatus],
        running: set[str],
        placements: dict[str, dict[str, str]],
    ) -> str | bool | None:
        """The payload's JSON with the entries of `cells` computed again; None when they
        are as sent; False when a full payload is needed (the cells are not those sent)."""
        sent = self.payload
        if sent is None or len(self.index) != len(states):
            return False
        entries: list[dict[str, Any]] = sent["cells"]
        replaced: dict[int, dict[str, Any]] = {}
        for cell_id in cells:
            status, at = states.get(cell_id), self.index.get(cell_id)
            if status is None or at is None:
                return False
            entry = state_entry(status, running, placements, self.memo)
            if entry != entries[at]:
                replaced[at] = entry
        if not replaced:
            return None
        texts = list(self.texts) if self.texts is not None else self._encode(entries)
        entries = list(entries)
        for at, entry in replaced.items():
            entries[at], texts[at] = entry, json.dumps(entry)
            self.encoded[id(entry)] = (entry, texts[at])
        self.payload, self.texts = {**sent, "cells": entries}, texts
        return f'{{"notebook":{json.dumps(self.name)},"cells":[{",".join(texts)}]}}'

    def _encode(self, entries: list[dict[str, Any]]) -> list[str]:
        """Each entry's JSON, reusing the texts of entries encoded before."""
        before, self.encoded = self.encoded, {}
        texts = []
        for entry in entries:
            known = before.get(id(entry))
            text = known[1] if known is not None and known[0] is entry else json.dumps(entry)
            self.encoded[id(entry)] = (entry, text)
            texts.append(text)
        return texts
