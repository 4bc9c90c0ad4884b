"""When delayed messages (timers, scheduled starts, scheduled entity signals) become visible.

Messages stay in their inbox whatever their due time; this heap only says when the next one is due,
so that the hub wakes the engine at that moment (a loop timer on the remaining wall seconds, moved
whenever the virtual clock moves) and time skipping knows where to jump.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from .records import WaitingMessage


class DueTimes:
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, WaitingMessage]] = []

    def add(self, waiting: WaitingMessage) -> None:
        due = waiting.message.visible_at
        if due is not None:
            heapq.heappush(self._heap, (due, waiting.sequence, waiting))

    def next_due(self) -> datetime | None:
        """The earliest due time of a message still waiting (it may have passed a moment ago)."""
        while self._heap and self._heap[0][2].gone:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: datetime) -> int:
        """Forget the messages due by ``now`` (they are visible); how many there were."""
        count = 0
        while (due := self.next_due()) is not None and due <= now:
            heapq.heappop(self._heap)
            count += 1
        return count

    def clear(self) -> None:
        self._heap.clear()
