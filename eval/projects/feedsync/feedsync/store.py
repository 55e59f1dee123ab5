"""Entries kept in memory, newest first, one per id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    published: datetime
    link: str = ""


class EntryStore:
    def __init__(self, max_entries: int = 500) -> None:
        self.max_entries = max_entries
        self._entries: dict[str, Entry] = {}

    def add(self, entry: Entry) -> bool:
        """Keep `entry` unless one with its id is already there; False when it was known."""
        if entry.id in self._entries:
            return False
        self._entries[entry.id] = entry
        if len(self._entries) > self.max_entries:
            oldest = min(self._entries.values(), key=lambda e: e.published)
            del self._entries[oldest.id]
        return True

    def latest(self, n: int = 20) -> list[Entry]:
        return sorted(self._entries.values(), key=lambda e: e.published, reverse=True)[:n]

    def since(self, when: datetime) -> list[Entry]:
        return [e for e in self.latest(len(self._entries)) if e.published > when]
