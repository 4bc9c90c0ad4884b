"""Reading activity work items from the work-item queue, keeping long ones invisible while they run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from ..core.poison import poison_reason
from ..core.service import ActivityWorkItem
from .background import BackgroundCalls
from .control_queues import Unreadable, decode_batch
from .poison import PoisonStore
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
        self.capacity = max(1, settings.max_concurrent_activities)
        self._buffer: deque[ReceivedMessage] = deque()
        self._running: dict[str, _Lock] = {}
        self._stopping = asyncio.Event()
        self._offered = asyncio.Event()

    def has_room(self) -> bool:
        """True while this worker would start one more activity at once (so it may keep it local)."""
        return not self._stopping.is_set() and len(self._buffer) + len(self._running) < self.capacity

    def offer(self, received: ReceivedMessage) -> None:
        """Run an activity message this process sent and holds (see ``TaskHubQueue.send_held``)."""
        self._buffer.append(received)
        self._offered.set()

    def start(self) -> None:
        self._stopping.clear()

    async def stop(self) -> None:
        self._stopping.set()
        self._offered.set()
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
                batch = await self.queue.receive_batch(self.batch_size)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Receiving from '%s' failed, retrying: %s", self.queue.name, exc)
                await asyncio.sleep(1.0)
                continue
            if batch:
                self.queue.backoff.reset()
                decoded = await decode_batch(self.queue, batch, self.unreadable)
                self._buffer.extend(r for r in decoded if not self._adopted(r))
            elif not self._buffer:
                await self._idle()
        received = self._buffer.popleft()
        lock = _Lock(received, asyncio.create_task(self._keep_invisible(received)))
        self._running[received.id] = lock
        item = ActivityWorkItem(received.id, received.message, lock)
        if received.dequeue_count > self.poison_after:
            item.poison_reason = poison_reason(received.dequeue_count, "the activity never completed")
        return item

    def _adopted(self, received: ReceivedMessage) -> bool:
        """A message this worker is running came back (a renewal was late: the machine stalled): it is
        not run twice; the running activity takes its new pop receipt, to renew and delete it with."""
        lock = self._running.get(received.id)
        if lock is None:
            return False
        log.warning(
            "Activity message %s became visible while it ran here (a late renewal); it keeps running once",
            received.id,
        )
        lock.received.queue_message = received.queue_message
        return True

    async def _idle(self) -> None:
        """Back off between empty polls; an offered message or a wake-up ends the wait at once."""
        self._offered.clear()
        if self._buffer:
            return
        backoff = asyncio.ensure_future(self.queue.backoff.wait())
        offered = asyncio.ensure_future(self._offered.wait())
        await asyncio.wait([backoff, offered], return_when=asyncio.FIRST_COMPLETED)
        for waiter in (backoff, offered):
            waiter.cancel()

    async def _keep_invisible(self, received: ReceivedMessage) -> None:
        # Renewing at a third of the timeout leaves two thirds of it for a late or failed renewal.
        # ``received.queue_message`` is read each time: an adopted re-delivery replaces it.
        interval_s = max(0.5, self.queue.visibility_timeout_s / 3)
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.queue.renew(received.queue_message)
            except Exception as exc:
                log.warning("Renewing activity message %s failed: %s", received.id, exc)

    async def _unlock(self, item: ActivityWorkItem) -> ReceivedMessage:
        lock: _Lock = item.session
        self._running.pop(item.id, None)
        lock.renewer.cancel()
        await asyncio.gather(lock.renewer, return_exceptions=True)
        return lock.received

    async def done(self, item: ActivityWorkItem, background: BackgroundCalls | None = None) -> None:
        """The activity's result is sent: its message goes (deleted by ``background`` when given)."""
        received = await self._unlock(item)
        if item.poison_reason is not None and self.poison is not None:
            instance_id = received.message.instance_id
            await self.poison.quarantine(self.queue, received.queue_message, item.poison_reason, instance_id)
        elif background is not None:
            background.spawn(
                lambda: self.queue.delete(received.queue_message), f"Deleting activity message {item.id}"
            )
        else:
            await self.queue.delete(received.queue_message)

    async def abandon(self, item: ActivityWorkItem) -> None:
        received = await self._unlock(item)
        await self.queue.put_back(received.queue_message)
