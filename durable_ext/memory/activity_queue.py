"""The in-memory work-item queue: activities waiting, and those handed out and not finished yet."""

from __future__ import annotations

from collections import deque

from .records import WaitingMessage


class ActivityQueue:
    def __init__(self) -> None:
        self.queued: deque[WaitingMessage] = deque()
        self.running: dict[int, WaitingMessage] = {}

    @property
    def busy(self) -> bool:
        return bool(self.queued or self.running)

    def put(self, waiting: WaitingMessage) -> None:
        waiting.gone = False
        self.queued.append(waiting)

    def take(self) -> WaitingMessage | None:
        """The next activity, handed out once more; ``None`` when none waits."""
        if not self.queued:
            return None
        waiting = self.queued.popleft()
        waiting.dequeue_count += 1
        self.running[waiting.sequence] = waiting
        return waiting

    def done(self, waiting: WaitingMessage) -> None:
        self.running.pop(waiting.sequence, None)
        waiting.gone = True

    def put_back(self, waiting: WaitingMessage) -> None:
        """An activity that did not complete: delivered again."""
        if self.running.pop(waiting.sequence, None) is not None:
            self.put(waiting)

    def release_all(self) -> None:
        """Everything handed out goes back (the worker stopped without finishing it)."""
        for waiting in sorted(self.running.values(), key=lambda m: m.sequence):
            self.put(waiting)
        self.running.clear()

    def clear(self) -> None:
        self.queued.clear()
        self.running.clear()
