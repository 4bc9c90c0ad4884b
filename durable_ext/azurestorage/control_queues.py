"""Dequeue loops: one per owned control queue, feeding received messages into the session manager."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from azure.storage.queue import QueueMessage

from . import envelope
from .queues import ReceivedMessage, TaskHubQueue
from .sessions import SessionManager
from .settings import AzureStorageSettings

log = logging.getLogger("durable_ext.control_queues")

ERROR_DELAY_S = 1.0
BUFFER_FULL_DELAY_S = 0.1


Unreadable = Callable[[TaskHubQueue, QueueMessage, str], Awaitable[None]]
"""What to do with a message that is not a task message (given the reason)."""


async def decode_received(
    queue: TaskHubQueue, raw: QueueMessage, unreadable: Unreadable | None = None
) -> ReceivedMessage | None:
    """Decode one queue message (fetching its blob when it is large); ``None`` for a body that is not a
    task message, which is handed to ``unreadable`` (or left in the queue)."""
    reason: str | None = None
    try:
        decoded = envelope.decode(str(raw.content))
        if decoded.message is None and decoded.compressed_blob_name and queue.payloads is not None:
            decoded = envelope.decode(await queue.payloads.download(decoded.compressed_blob_name))
        if decoded.message is None:
            reason = f"it points at blob '{decoded.compressed_blob_name}', which holds no task message"
    except envelope.MessageFormatError as exc:
        reason = f"it cannot be read: {exc}"
    if reason is None:
        assert decoded.message is not None
        return ReceivedMessage(decoded.message, raw, queue, decoded.sequence_number)
    if unreadable is None:
        log.error(
            "Message %s in '%s' is not a task message (%s); it stays in the queue", raw.id, queue.name, reason
        )
    else:
        await unreadable(queue, raw, reason)
    return None


async def decode_batch(
    queue: TaskHubQueue, batch: list[QueueMessage], unreadable: Unreadable | None = None
) -> list[ReceivedMessage]:
    decoded = await asyncio.gather(*(decode_received(queue, raw, unreadable) for raw in batch))
    return [r for r in decoded if r is not None]


class ControlQueueListener:
    def __init__(
        self, sessions: SessionManager, settings: AzureStorageSettings, unreadable: Unreadable | None = None
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.unreadable = unreadable
        self._loops: dict[str, tuple[asyncio.Task[None], asyncio.Event, TaskHubQueue]] = {}

    @property
    def queue_names(self) -> list[str]:
        return sorted(self._loops)

    def listens_to(self, name: str) -> bool:
        return name in self._loops

    def add_queue(self, queue: TaskHubQueue) -> None:
        if queue.name in self._loops:
            return
        stopping = asyncio.Event()
        task = asyncio.create_task(self._dequeue_loop(queue, stopping), name=f"dequeue-{queue.name}")
        self._loops[queue.name] = (task, stopping, queue)

    async def remove_queue(self, name: str) -> None:
        entry = self._loops.pop(name, None)
        if entry is None:
            return
        task, stopping, queue = entry
        stopping.set()
        queue.backoff.wake()
        await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        await asyncio.gather(*(self.remove_queue(name) for name in list(self._loops)))

    async def _dequeue_loop(self, queue: TaskHubQueue, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            if self.sessions.buffered_count >= self.settings.control_queue_buffer_threshold:
                await asyncio.sleep(BUFFER_FULL_DELAY_S)
                continue
            try:
                batch = await queue.receive(self.settings.control_queue_batch_size, stopping)
                received = await decode_batch(queue, batch, self.unreadable)
                if received:
                    self.sessions.add(received)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Receiving from '%s' failed, retrying: %s", queue.name, exc)
                await asyncio.sleep(ERROR_DELAY_S)
