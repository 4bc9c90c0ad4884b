"""How far off an idle queue poller's next read is, from the back-off delays it draws.

A test that proves a message is read at once (woken, not found by a poll) sends it only when a poll
would come much later than the bound it asserts, however loaded the machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from durable_ext.azurestorage.queues import TaskHubQueue


class PollWatch:
    """Records when the pollers of ``queues`` drew their last back-off delay, and how long it was."""

    def __init__(self, queues: Iterable[TaskHubQueue]) -> None:
        self._drawn: dict[str, tuple[float, float]] = {}
        self.names: list[str] = []
        for queue in queues:
            if queue.name not in self.names:
                self.names.append(queue.name)
                self._watch(queue)

    def _watch(self, queue: TaskHubQueue) -> None:
        backoff = queue.backoff
        draw = backoff.next_delay_s

        def watched() -> float:
            delay = draw()
            self._drawn[queue.name] = (time.monotonic(), delay)
            return delay

        backoff.next_delay_s = watched  # type: ignore[method-assign]

    def next_read_in_s(self, name: str) -> float:
        """How long until the poller of queue ``name`` reads again unless woken (0: it is not waiting)."""
        drawn = self._drawn.get(name)
        if drawn is None:
            return 0.0
        at, delay = drawn
        return max(0.0, at + delay - time.monotonic())

    async def until_idle(self, at_least_s: float, timeout_s: float = 120.0) -> None:
        """Wait until no watched poller reads again for ``at_least_s`` unless woken."""
        deadline = time.monotonic() + timeout_s
        while min(self.next_read_in_s(name) for name in self.names) < at_least_s:
            if time.monotonic() > deadline:
                waits = {name: round(self.next_read_in_s(name), 1) for name in self.names}
                raise AssertionError(f"the pollers never all waited {at_least_s} s: {waits}")
            await asyncio.sleep(0.02)
