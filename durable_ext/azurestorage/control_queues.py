"""Dequeue loops: one per owned control queue, feeding received messages into the session manager."""

from __future__ import annotations

import asyncio
import logging

from azure.storage.queue import QueueMessage

from . import envelope
from .queues import ReceivedMessage, TaskHubQueue
from .sessions import SessionManager
from .settings import AzureStorageSettings

log = logging.getLogger("durable_ext.control_queues")

ERROR_DELAY_S = 1.0
BUFFER_FULL_DELAY_S = 0.1


async def decode_received(queue: TaskHubQueue, raw: QueueMessage) -> ReceivedMessage | None:
    """Decode one queue message (fetching its blob when it is large); log and return ``None`` for a
    body that is not a task message."""
    try:
        decoded = envelope.decode(str(raw.content))
        if decoded.message is None and decoded.compressed_blob_name and queue.payloads is not None:
            decoded = envelope.decode(await queue.payloads.download(decoded.compressed_blob_name))
    except envelope.MessageFormatError as exc:
        log.error("Message %s in '%s' cannot be read (%s); it stays in the queue", raw.id, queue.name, exc)
        return None
    if decoded.message is None:
        blob = decoded.compressed_blob_name
        log.error(
            "Message %s in '%s' points at blob '%s', which holds no task message", raw.id, queue.name, blob
        )
        return None
    return ReceivedMessage(decoded.message, raw, queue, decoded.sequence_number)


async def decode_batch(queue: TaskHubQueue, batch: list[QueueMessage]) -> list[ReceivedMessage]:
    decoded = await asyncio.gather(*(decode_received(queue, raw) for raw in batch))
    return [r for r in decoded if r is not None]


class ControlQueueListener:
    def __init__(self, sessions: SessionManager, settings: AzureStorageSettings) -> None:
        self.sessions = sessions
        self.settings = settings
        self._loops: dict[str, tuple[asyncio.Task[None], asyncio.Event, TaskHubQueue]] = {}

    @property
    def queue_names(self) -> list[str]:
        return sorted(self._loops)

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
                received = await decode_batch(queue, batch)
                if received:
                    self.sessions.add(received)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Receiving from '%s' failed, retrying: %s", queue.name, exc)
                await asyncio.sleep(ERROR_DELAY_S)
