"""Wakes this process's queue listeners when a queue output of this process has just written to their queue.

A listener backs off while its queue is empty (up to ``maxPollingInterval``); a message written by a
function of the same process would otherwise wait for the next poll. Outputs call :meth:`notify` after a
send, and the listener of that account and queue polls at once, as the Functions host's enqueue watcher
does. Messages from other processes are still found by polling.
"""

from __future__ import annotations

from collections.abc import Callable

from azure.storage.queue.aio import QueueServiceClient

Wake = Callable[[], None]


def account_key(queues: QueueServiceClient) -> str:
    """What identifies one storage account's queue service: its endpoint, without credentials."""
    return str(queues.primary_endpoint).split("?", 1)[0].rstrip("/").lower()


class QueueWatch:
    """The wake-up callbacks of the listeners of this process, by account and queue name."""

    def __init__(self) -> None:
        self._watchers: dict[tuple[str, str], list[Wake]] = {}

    def watch(self, queues: QueueServiceClient, queue_name: str, wake: Wake) -> Callable[[], None]:
        """Call ``wake`` whenever a message is written to ``queue_name``; returns what undoes this."""
        key = (account_key(queues), queue_name)
        self._watchers.setdefault(key, []).append(wake)

        def unwatch() -> None:
            callbacks = self._watchers.get(key, [])
            if wake in callbacks:
                callbacks.remove(wake)
            if not callbacks:
                self._watchers.pop(key, None)

        return unwatch

    def notify(self, queues: QueueServiceClient, queue_name: str) -> None:
        """A message was just written to ``queue_name`` of that account."""
        for wake in list(self._watchers.get((account_key(queues), queue_name), ())):
            wake()


PROCESS_QUEUE_WATCH = QueueWatch()
"""The one watch of this process, shared by every queue output and listener."""
