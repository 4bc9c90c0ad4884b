"""Reading activity work items from the work-item queue, keeping long ones invisible while they run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from ..core.service import ActivityWorkItem
from .control_queues import Unreadable, decode_batch
from .poison import PoisonStore, poison_reason
from .queues import ReceivedMessage, TaskHubQueue
from .settings import AzureStorageSettings

log = logging.getLogger("durable_ext.activities")


@dataclass
class _Lock:
    received: ReceivedMessage
    renewer: asyncio.Task[None]


class ActivityQueueReader:
    def __init__(
        self,
        queue: TaskHubQueue,
        settings: AzureStorageSettings,
        unreadable: Unreadable | None = None,
        poison: PoisonStore | None = None,
    ) -> None:
        self.queue = queue
        self.poison = poison
        self.poison_after = settings.poison_message_dequeue_count
        self.unreadable = unreadable
        self.batch_size = max(1, min(32, settings.max_concurrent_activities))
        self._buffer: deque[ReceivedMessage] = deque()
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._stopping.clear()

    async def stop(self) -> None:
        self._stopping.set()
        self.queue.backoff.wake()
        while self._buffer:  # let another worker take what this one will not run
            received = self._buffer.popleft()
            with contextlib.suppress(Exception):
                await self.queue.release(received.queue_message)

    async def next(self) -> ActivityWorkItem | None:
        while not self._buffer:
            if self._stopping.is_set():
                return None
            try:
                batch = await self.queue.receive(self.batch_size, self._stopping)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Receiving from '%s' failed, retrying: %s", self.queue.name, exc)
                await asyncio.sleep(1.0)
                continue
            self._buffer.extend(await decode_batch(self.queue, batch, self.unreadable))
        received = self._buffer.popleft()
        renewer = asyncio.create_task(self._keep_invisible(received))
        item = ActivityWorkItem(received.id, received.message, _Lock(received, renewer))
        if received.dequeue_count > self.poison_after:
            item.poison_reason = poison_reason(received.dequeue_count, "the activity never completed")
        return item

    async def _keep_invisible(self, received: ReceivedMessage) -> None:
        interval_s = max(1.0, self.queue.visibility_timeout_s / 2)
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.queue.renew(received.queue_message)
            except Exception as exc:
                log.warning("Renewing activity message %s failed: %s", received.id, exc)

    async def _unlock(self, item: ActivityWorkItem) -> ReceivedMessage:
        lock: _Lock = item.session
        lock.renewer.cancel()
        await asyncio.gather(lock.renewer, return_exceptions=True)
        return lock.received

    async def done(self, item: ActivityWorkItem) -> None:
        received = await self._unlock(item)
        if item.poison_reason is not None and self.poison is not None:
            instance_id = received.message.instance_id
            await self.poison.quarantine(self.queue, received.queue_message, item.poison_reason, instance_id)
        else:
            await self.queue.delete(received.queue_message)

    async def abandon(self, item: ActivityWorkItem) -> None:
        received = await self._unlock(item)
        await self.queue.abandon(received.queue_message)
