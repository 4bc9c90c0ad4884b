"""Wakes this process's queue listeners when a queue output of this process has just written to their queue.

A listener backs off while its queue is empty (up to ``maxPollingInterval``); a message written by a
function of the same process would otherwise wait for the next poll. Outputs call :meth:`notify` after a
send, and the listener of that account and queue polls at once, as the Functions host's enqueue watcher
does. Messages from other processes are still found by polling.
"""

from __future__ import annotations

from collections.abc import Callable

from azure.storage.queue.aio import QueueServiceClient

from .watch import Watch

Wake = Callable[[], None]


class QueueWatch(Watch):
    """The wake-up callbacks of the listeners of this process, by account and queue name."""

    def watch(self, queues: QueueServiceClient, queue_name: str, wake: Wake) -> Callable[[], None]:
        """Call ``wake`` whenever a message is written to ``queue_name``; returns what undoes this."""
        return self.add(queues, queue_name, lambda _queue: wake())

    def notify(self, queues: QueueServiceClient, queue_name: str) -> None:
        """A message was just written to ``queue_name`` of that account."""
        self.announce(queues, queue_name, queue_name)


PROCESS_QUEUE_WATCH = QueueWatch()
"""The one watch of this process, shared by every queue output and listener."""
