"""Polls one storage queue and hands each message to a handler, as the Functions host's queue listener does.

* Messages are fetched ``batchSize`` at a time, invisible for 10 minutes, and each is handled at once;
  while a handler runs, its message's visibility is renewed every 5 minutes. The next batch is fetched
  when no more than ``newBatchThreshold`` are still running, so at most ``batchSize + newBatchThreshold``
  run at a time. Every process polling the queue competes for its messages.
* An empty poll (or a queue that does not exist yet: the listener creates nothing) backs off
  exponentially, randomised, from 100 ms to ``maxPollingInterval``; a message found resets it, and so
  does a message a queue output of this process writes to the queue (:mod:`queue_watch`).
* A handler that returns deletes the message. One that raises makes it visible again after
  ``visibilityTimeout``; at its ``maxDequeueCount``-th attempt it is copied to the poison queue (created
  if missing) and deleted instead. A message already past ``maxDequeueCount``, or whose text is not the
  Base64 the encoding expects, goes to the poison queue without running.
* Stopping ends the polling and waits (a bounded time) for running handlers; messages they did not finish
  are not deleted and come back once their visibility runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from durable_ext.azurestorage.queues import PollBackoff

from .queue_messages import decode_body, send_creating_queue
from .queue_options import QueuesOptions
from .queue_watch import PROCESS_QUEUE_WATCH, QueueWatch

log = logging.getLogger("durable_ext.queue_trigger")

MESSAGE_VISIBILITY_S = 600.0
"""How long a received message stays invisible to other receivers; renewed at half of it."""
MIN_POLL_INTERVAL_S = 0.1
STOP_GRACE_S = 10.0
"""How long stopping waits for running handlers before it leaves their messages for a later retry."""


@dataclass
class ReceivedQueueMessage:
    """One received message: what a handler sees, and the pop receipt it is settled with."""

    id: str
    pop_receipt: str
    dequeue_count: int
    inserted_on: datetime | None
    expires_on: datetime | None
    next_visible_on: datetime | None
    text: str
    """The message text as stored (Base64 with the default encoding)."""
    body: bytes
    """The decoded body."""


MessageHandler = Callable[[ReceivedQueueMessage], Awaitable[None]]


class _Undecodable(ValueError):
    def __init__(self, message: QueueMessage, why: ValueError) -> None:
        super().__init__(str(why))
        self.message = message


class QueueListener:
    """Implements :class:`bindings.base.Listener` for one queue and one handler."""

    def __init__(
        self,
        *,
        queues: QueueServiceClient,
        queue_name: str,
        poison_queue_name: str | None,
        options: QueuesOptions,
        handler: MessageHandler,
        owner: str,
        watch: QueueWatch = PROCESS_QUEUE_WATCH,
        message_visibility_s: float = MESSAGE_VISIBILITY_S,
        stop_grace_s: float = STOP_GRACE_S,
    ) -> None:
        self.queue_name = queue_name
        self.options = options
        self._queues = queues
        self._client = queues.get_queue_client(queue_name)
        self._poison = queues.get_queue_client(poison_queue_name) if poison_queue_name else None
        self._handler = handler
        self._owner = owner
        """Whom the messages are for, in logs (``Function 'name'``)."""
        self._watch = watch
        self._visibility_s = message_visibility_s
        self._stop_grace_s = stop_grace_s
        self._backoff = PollBackoff(options.max_polling_interval_s, MIN_POLL_INTERVAL_S)
        self._stopping = asyncio.Event()
        self._room = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._unwatch: Callable[[], None] | None = None
        self._reported_missing = False

    @property
    def running(self) -> int:
        """Messages being handled now."""
        return len(self._running)

    async def start(self) -> None:
        if self._loop_task is not None:
            return
        self._unwatch = self._watch.watch(self._queues, self.queue_name, self._backoff.wake)
        self._loop_task = asyncio.create_task(self._poll(), name=f"queue listener {self.queue_name}")

    async def stop(self) -> None:
        self._stopping.set()
        self._backoff.wake()
        self._room.set()
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if not self._running:
            return
        _, unfinished = await asyncio.wait(set(self._running), timeout=self._stop_grace_s)
        if unfinished:
            log.warning(
                "%s: %d message(s) of queue '%s' were still running at shutdown; they are not deleted and "
                "will be retried once their visibility timeout ends.",
                self._owner,
                len(unfinished),
                self.queue_name,
            )
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    # ------------------------------------------------------------------ polling

    async def _poll(self) -> None:
        while not self._stopping.is_set():
            await self._wait_for_room()
            if self._stopping.is_set():
                return
            batch = await self._receive()
            if self._stopping.is_set():
                await asyncio.gather(*(self._release(m) for m in batch))
                return
            if not batch:
                await self._backoff.wait()
                continue
            self._backoff.reset()
            for message in batch:
                self._spawn(message)

    async def _wait_for_room(self) -> None:
        while len(self._running) > self.options.new_batch_threshold and not self._stopping.is_set():
            self._room.clear()
            await self._room.wait()

    async def _receive(self) -> list[QueueMessage]:
        """One Get Messages call (only the first page: the pager would ask again for a short page)."""
        try:
            pages = self._client.receive_messages(
                messages_per_page=self.options.batch_size,
                visibility_timeout=int(self._visibility_s),
            ).by_page()
            async for page in pages:
                batch = [m async for m in page]
                self._reported_missing = False
                return batch
            return []
        except ResourceNotFoundError:
            if not self._reported_missing:
                log.info("%s: queue '%s' does not exist yet; polling for it.", self._owner, self.queue_name)
                self._reported_missing = True
            return []
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: receiving from queue '%s' failed: %s", self._owner, self.queue_name, exc)
            return []

    def _spawn(self, message: QueueMessage) -> None:
        task = asyncio.create_task(self._settle(message), name=f"queue message {message.id}")
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._room.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: handling a queue message broke", self._owner, exc_info=task.exception())

    # ------------------------------------------------------------------ one message

    async def _settle(self, queued: QueueMessage) -> None:
        try:
            message = self._decoded(queued)
        except _Undecodable as exc:
            why = f"it cannot be decoded ({exc}; messageEncoding is '{self.options.message_encoding}')"
            await self._to_poison(queued.id, str(queued.pop_receipt), str(queued.content or ""), why)
            return
        maximum = self.options.max_dequeue_count
        if message.dequeue_count > maximum:
            await self._to_poison(message.id, message.pop_receipt, message.text)
            return
        succeeded = await self._run(message)
        if succeeded:
            await self._delete(message.id, message.pop_receipt)
        elif message.dequeue_count >= maximum:
            await self._to_poison(message.id, message.pop_receipt, message.text)
        else:
            await self._retry_later(message)

    def _decoded(self, queued: QueueMessage) -> ReceivedQueueMessage:
        text = str(queued.content or "")
        try:
            body = decode_body(text, self.options.message_encoding)
        except ValueError as exc:
            raise _Undecodable(queued, exc) from exc
        return ReceivedQueueMessage(
            id=str(queued.id),
            pop_receipt=str(queued.pop_receipt),
            dequeue_count=int(queued.dequeue_count or 0),
            inserted_on=queued.inserted_on,
            expires_on=queued.expires_on,
            next_visible_on=queued.next_visible_on,
            text=text,
            body=body,
        )

    async def _run(self, message: ReceivedQueueMessage) -> bool:
        """Run the handler while renewing the message's visibility; True if it returned."""
        renewal = _VisibilityRenewal(self._client, message, self._visibility_s, self._owner)
        renewal.start()
        try:
            await self._handler(message)
        except asyncio.CancelledError:
            renewal.abandon()
            raise
        except Exception:
            log.exception(
                "%s failed on message %s of queue '%s' (dequeue count %d).",
                self._owner,
                message.id,
                self.queue_name,
                message.dequeue_count,
            )
            await renewal.finish()
            return False
        await renewal.finish()
        return True

    async def _delete(self, message_id: str, pop_receipt: str) -> None:
        try:
            await self._client.delete_message(message_id, pop_receipt)
        except ResourceNotFoundError:
            log.debug("message %s was already gone from %s", message_id, self.queue_name)
        except Exception as exc:
            log.warning(
                "%s: deleting message %s from queue '%s' failed (it will be seen again): %s",
                self._owner,
                message_id,
                self.queue_name,
                exc,
            )

    async def _retry_later(self, message: ReceivedQueueMessage) -> None:
        delay = round(self.options.visibility_timeout_s)
        try:
            await self._client.update_message(message.id, message.pop_receipt, visibility_timeout=delay)
        except ResourceNotFoundError:
            return
        except Exception as exc:
            log.warning(
                "%s: making message %s of queue '%s' visible again failed (it returns after its visibility "
                "timeout): %s",
                self._owner,
                message.id,
                self.queue_name,
                exc,
            )
            return
        if delay == 0:
            self._backoff.wake()

    async def _release(self, queued: QueueMessage) -> None:
        """Make a message received while stopping visible again at once (it was never handled)."""
        with contextlib.suppress(Exception):
            await self._client.update_message(queued.id, queued.pop_receipt, visibility_timeout=0)

    async def _to_poison(self, message_id: str, pop_receipt: str, text: str, why: str | None = None) -> None:
        """Copy the message text to the poison queue and delete the message; ``why`` if not its count."""
        if self._poison is None:
            log.warning(
                "%s: message %s of queue '%s' %s, but the queue has no poison queue (its name ends with "
                "'-poison' or would be too long with it); it is left invisible.",
                self._owner,
                message_id,
                self.queue_name,
                why or f"has reached MaxDequeueCount of {self.options.max_dequeue_count}",
            )
            return
        if why is None:
            log.warning(
                "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                self.options.max_dequeue_count,
                self._poison.queue_name,
            )
        else:
            log.warning(
                "%s: message %s of queue '%s' goes to queue '%s' without running: %s.",
                self._owner,
                message_id,
                self.queue_name,
                self._poison.queue_name,
                why,
            )
        try:
            await send_creating_queue(self._poison, text)
        except Exception as exc:
            log.warning(
                "%s: copying message %s to queue '%s' failed (it will be seen again): %s",
                self._owner,
                message_id,
                self._poison.queue_name,
                exc,
            )
            return
        await self._delete(message_id, pop_receipt)


class _VisibilityRenewal:
    """Keeps a running message invisible: its visibility is renewed at half of it, sooner after a failure.

    The renewed pop receipt replaces the message's, so the message is settled with the current one; a
    renewal is never cut off half way by :meth:`finish`, which would leave a receipt nobody knows.
    """

    def __init__(self, client: QueueClient, message: ReceivedQueueMessage, visibility_s: float, owner: str):
        self._client = client
        self._message = message
        self._visibility_s = visibility_s
        self._owner = owner
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._renew_until_done())

    async def finish(self) -> None:
        """Stop renewing, after a renewal under way has completed."""
        async with self._lock:
            self.abandon()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def abandon(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _renew_until_done(self) -> None:
        interval = self._visibility_s / 2
        shortest = self._visibility_s / 10
        while True:
            await asyncio.sleep(interval)
            async with self._lock:
                try:
                    updated = await self._client.update_message(
                        self._message.id,
                        self._message.pop_receipt,
                        visibility_timeout=int(self._visibility_s),
                    )
                except ResourceNotFoundError:
                    log.warning(
                        "%s: message %s is no longer held (its visibility ran out and another receiver may "
                        "have it); its visibility is not renewed.",
                        self._owner,
                        self._message.id,
                    )
                    return
                except Exception as exc:
                    interval = max(shortest, interval / 2)
                    log.warning(
                        "%s: renewing the visibility of message %s failed, trying again in %.0f s: %s",
                        self._owner,
                        self._message.id,
                        interval,
                        exc,
                    )
                    continue
                self._message.pop_receipt = str(updated.pop_receipt)
            interval = self._visibility_s / 2
