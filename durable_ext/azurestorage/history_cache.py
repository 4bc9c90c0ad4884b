"""Histories kept in memory between episodes, so an instance's next episode does not read them again.

An entry is what this worker committed last for the instance: the events of the current execution, the
sentinel row's ETag after that commit, and what it last wrote to the Instances row. It is only ever a
guess that nobody else wrote since: the next commit is conditional on that ETag, and a conflict (or any
failed episode) drops the entry, so the episode is redone on the history read from the table.

Entries are taken out while an episode runs and put back when it commits; they are dropped for
finished instances (purge and rewind work on those from outside), for the instances of a partition
this worker lets go, and least-recently-used first beyond ``max_entries``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from .history_store import LoadedHistory

DEFAULT_MAX_ENTRIES = 10_000


class HistoryCache:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, LoadedHistory] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, instance_id: str) -> LoadedHistory | None:
        """The cached history of ``instance_id``, removed from the cache (``None`` when not cached)."""
        entry = self._entries.pop(instance_id, None)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def put(self, instance_id: str, history: LoadedHistory) -> None:
        if self.max_entries <= 0:
            return
        self._entries[instance_id] = history
        self._entries.move_to_end(instance_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def drop(self, instance_id: str) -> None:
        self._entries.pop(instance_id, None)

    def drop_where(self, predicate: Callable[[str], bool]) -> None:
        for instance_id in [i for i in self._entries if predicate(i)]:
            del self._entries[instance_id]
