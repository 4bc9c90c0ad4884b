"""Control and work-item queues: send, receive with idle back-off, renew, abandon, delete.

Idle polling backs off exponentially (50 ms doubling, randomised, up to a ceiling); any message this
process sends to a queue wakes that queue's poller at once, or when the message becomes visible, and
tells the worker that polls the queue (``announce``, see ``peer_wakeups``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from azure.core.exceptions import ResourceNotFoundError, ServiceRequestError
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

from ..core.messages import TaskMessage
from ..errors import TransientStorageError
from . import envelope
from .clients import retry_transient, translated
from .http1_client import ConnectFailed
from .large_payloads import LargePayloads, message_blob_name, message_too_large
from .lean_queue import lean_queue

log = logging.getLogger("durable_ext.queues")

MIN_POLL_DELAY_S = 0.05
MAX_VISIBILITY_DELAY_S = 7 * 24 * 3600 - 60
MAX_ABANDON_DELAY_S = 600
PUT_BACK_ATTEMPTS = 12
CONNECT_RETRIES = 3
VISIBLE_GRACE_S = 0.1
"""A delayed message's delay is rounded up to whole seconds by the queue: look just after that."""
LOOK_AGAIN_S = 1.0
"""After a delayed message's wake-up, the poller looks once more this much later."""

Announce = Callable[[str, float], Awaitable[None]]
"""Told a queue's name and in how many seconds a message in it becomes visible (0: now)."""


@dataclass
class ReceivedMessage:
    """A dequeued message with what is needed to renew, abandon or delete it."""

    message: TaskMessage
    queue_message: QueueMessage
    queue: TaskHubQueue
    sequence_number: int = 0
    status_row_known: bool = False
    """A start whose Instances row this process wrote, so the worker need not read the row to trust it."""

    @property
    def id(self) -> str:
        return str(self.queue_message.id)

    @property
    def dequeue_count(self) -> int:
        return int(self.queue_message.dequeue_count or 0)

    @property
    def inserted_on(self) -> datetime:
        return self.queue_message.inserted_on or datetime.now(UTC)


def _never_sent(exc: BaseException) -> bool:
    """The request failed while connecting: it never reached the server."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError | ConnectFailed):
            return True
        cause = cause.__cause__ or getattr(cause, "inner_exception", None)
        if cause is exc:
            return False
    return False


class PollBackoff:
    """Randomised exponential back-off between empty polls, reset by a wake-up or a hit."""

    def __init__(self, max_delay_s: float, min_delay_s: float = MIN_POLL_DELAY_S) -> None:
        self.min_delay_s = min_delay_s
        self.max_delay_s = max(max_delay_s, min_delay_s)
        self._exponent = 0
        self._wake = asyncio.Event()
        self._armed: set[int] = set()

    def wake(self) -> None:
        self._exponent = 0
        self._wake.set()

    def wake_in(self, delay_s: float) -> None:
        """Wake the poller in ``delay_s`` (when a delayed message becomes visible); wake-ups due in the
        same tenth of a second are one."""
        loop = asyncio.get_running_loop()
        slot = math.ceil((loop.time() + delay_s) * 10)
        if slot in self._armed:
            return
        self._armed.add(slot)
        loop.call_at(slot / 10, self._armed_wake, slot)

    def _armed_wake(self, slot: int) -> None:
        self._armed.discard(slot)
        self.wake()
        # and once more a little later: the queue's clock and ours differ by a few tenths, and a loaded
        # storage may make the message visible late; a poll that found nothing backs off for long
        asyncio.get_running_loop().call_later(LOOK_AGAIN_S, self.wake)

    def reset(self) -> None:
        self._exponent = 0

    def next_delay_s(self) -> float:
        step = self.min_delay_s
        delay = step + random.uniform(0.8, 1.2) * (2 ** max(self._exponent - 1, 0)) * step
        if self._exponent == 0:
            delay = step
        self._exponent = min(self._exponent + 1, 30)
        return min(delay, self.max_delay_s)

    async def wait(self) -> None:
        """Sleep for the next back-off delay, or less if woken (also by a wake-up that came earlier)."""
        delay = self.next_delay_s()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=delay)
        except TimeoutError:
            return
        self._wake.clear()
        self._exponent = 0


class TaskHubQueue:
    def __init__(
        self, client: QueueClient, visibility_timeout_s: float, max_polling_interval_s: float
    ) -> None:
        self.client = client
        self.lean = lean_queue(client)
        """The hot operations' lean request path; ``None``: the SDK client's."""
        self.name = client.queue_name
        self.visibility_timeout_s = int(visibility_timeout_s)
        self.backoff = PollBackoff(max_polling_interval_s)
        self.payloads: LargePayloads | None = None
        """Where message bodies over the queue limit go; set by the service."""
        self.announce: Announce | None = None
        """Tells the worker that polls this queue about a message (set by the service)."""

    async def create(self) -> None:
        async with translated(f"Creating queue '{self.name}'"):
            try:
                await self.client.create_queue()
            except Exception as exc:  # already exists
                if "QueueAlreadyExists" not in str(exc) and "already exists" not in str(exc).lower():
                    raise

    async def send(self, message: TaskMessage, *, wake: bool = True, once: bool = False) -> None:
        """Enqueue ``message``; unless ``wake`` is false, this process's poller of the queue looks at once.
        ``once``: never put twice (see ``_put``)."""
        body, _ = await self._body(message)
        await self.send_body(body, message.visible_at, wake=wake, once=once)

    async def send_held(self, message: TaskMessage, *, once: bool = False) -> ReceivedMessage:
        """Enqueue ``message`` already invisible, as if this process had just received it.

        Put Message with a visibility timeout returns the pop receipt, so the sender holds the message
        exactly as a Get Messages would have given it: it is deleted when done, and it reappears for any
        worker if this process dies first. The Get Messages that would fetch it back is saved, and the
        message is handled without waiting for a poll.
        """
        body, sequence_number = await self._body(message)
        async with translated(f"Sending a message to queue '{self.name}'"):
            sent = await self._put(body, once, self.visibility_timeout_s)
        return ReceivedMessage(message, sent, self, sequence_number)

    async def _body(self, message: TaskMessage) -> tuple[str, int]:
        activity_id, body, sequence_number = envelope.encode(message)
        if self.payloads is not None and message_too_large(body):
            blob = message_blob_name(message.instance_id, activity_id, message.event_type.name)
            await self.payloads.upload(blob, body)
            body = envelope.encode_blob_pointer(blob)
        return body, sequence_number

    async def send_body(
        self, body: str, visible_at: datetime | None = None, *, wake: bool = True, once: bool = False
    ) -> None:
        delay = 0
        if visible_at is not None:
            delay = int(max(0.0, (visible_at - datetime.now(UTC)).total_seconds()) + 0.999)
            delay = min(delay, MAX_VISIBILITY_DELAY_S)
        async with translated(f"Sending a message to queue '{self.name}'"):
            await self._put(body, once, delay or None)
        if delay or wake:
            await self.made_visible(delay)

    async def made_visible(self, delay_s: float) -> None:
        """A message of this queue is visible in ``delay_s`` (0: now): the poller here looks then, and so
        does the worker polling it elsewhere, once told."""
        self.look_in(delay_s)
        if self.announce is not None:
            await self.announce(self.name, max(0.0, delay_s))

    def look_in(self, delay_s: float) -> None:
        """This process's poller reads the queue in ``delay_s`` (0: now), however long it was backing off."""
        if delay_s <= 0:
            self.backoff.wake()
        else:
            self.backoff.wake_in(delay_s + VISIBLE_GRACE_S)

    async def _put_message(self, body: str, visibility_timeout: int | None, once: bool) -> QueueMessage:
        if self.lean is not None:
            return await self.lean.put(body, visibility_timeout, attempts=1 if once else None)
        options: dict[str, Any] = {"retry_total": 0} if once else {}
        return await self.client.send_message(
            body, time_to_live=-1, visibility_timeout=visibility_timeout, **options
        )

    async def _put(self, body: str, once: bool, visibility_timeout: int | None) -> QueueMessage:
        """Put Message. ``once``: a client's message, which no receiver could tell from a second copy.
        The storage clients retry a request whose connection broke after it went out, which may put it
        twice; so it is tried again only when it never reached the server (the connection failed)."""
        if not once:
            return await self._put_message(body, visibility_timeout, once)
        for attempt in range(CONNECT_RETRIES + 1):
            try:
                return await self._put_message(body, visibility_timeout, once)
            except ServiceRequestError as exc:
                if attempt == CONNECT_RETRIES:
                    raise
                if not _never_sent(exc):
                    raise TransientStorageError(
                        f"Sending a message to queue '{self.name}' failed after the request went out "
                        f"({type(exc).__name__}: {exc}), so it may or may not have arrived. Look at the "
                        "instance's status or the entity's state before sending it again."
                    ) from exc
                await asyncio.sleep(0.4 * 2**attempt)
        raise AssertionError("unreachable")

    async def receive_batch(self, max_messages: int) -> list[QueueMessage]:
        """One Get Messages call; may return nothing.

        Only the first page is read: the pager would otherwise ask again whenever a page holds fewer
        than ``max_messages``, one more (usually empty) Get Messages on every receive.
        """
        async with translated(f"Receiving from queue '{self.name}'"):
            if self.lean is not None:
                return await self.lean.get(max_messages, self.visibility_timeout_s)
            pages = self.client.receive_messages(
                messages_per_page=max_messages, visibility_timeout=self.visibility_timeout_s
            ).by_page()
            async for page in pages:
                return [m async for m in page]
            return []

    async def receive(self, max_messages: int, stopping: asyncio.Event) -> list[QueueMessage]:
        """Wait, backing off while idle, until at least one message arrives or ``stopping`` is set."""
        while not stopping.is_set():
            batch = await self.receive_batch(max_messages)
            if batch:
                self.backoff.reset()
                return batch
            await self.backoff.wait()
        return []

    async def delete(self, message: QueueMessage) -> bool:
        """Delete the message; False when it was not there with this pop receipt (gone already, or
        taken again by a receive since)."""
        async with translated(f"Deleting a message from queue '{self.name}'"):
            try:
                if self.lean is not None:
                    await self.lean.delete(message.id, message.pop_receipt or "")
                else:
                    await self.client.delete_message(message.id, message.pop_receipt)
            except ResourceNotFoundError:
                log.debug("message %s was already gone from %s", message.id, self.name)
                return False
        return True

    async def set_visibility(self, message: QueueMessage, delay_s: float, *, renewing: bool = False) -> None:
        """Make ``message`` visible in ``delay_s``; ``renewing``: keep it invisible while it is worked on."""
        async with translated(f"Updating a message in queue '{self.name}'"):
            try:
                if self.lean is not None:
                    updated = await self.lean.update(message.id, message.pop_receipt or "", int(delay_s))
                else:
                    updated = await self.client.update_message(
                        message.id, message.pop_receipt, visibility_timeout=int(delay_s)
                    )
            except ResourceNotFoundError:
                log.debug("message %s was already gone from %s", message.id, self.name)
                return
        message.pop_receipt = updated.pop_receipt
        message.next_visible_on = updated.next_visible_on
        if not renewing:
            await self.made_visible(int(delay_s))

    async def abandon(self, message: QueueMessage, delay_s: float | None = None) -> None:
        """Make the message visible again after a back-off that grows with its dequeue count."""
        if delay_s is None:
            delay_s = min(2 ** int(message.dequeue_count or 1), MAX_ABANDON_DELAY_S)
        await self.set_visibility(message, delay_s)

    async def put_back(self, message: QueueMessage, delay_s: float | None = None) -> None:
        """:meth:`abandon`, waiting out an outage for a while (about a minute and a half): a message
        whose work failed because storage was down would otherwise come back only when its visibility
        timeout ends, minutes later."""
        await retry_transient(
            lambda: self.abandon(message, delay_s),
            f"Putting back message {message.id} of queue '{self.name}'",
            attempts=PUT_BACK_ATTEMPTS,
        )

    async def renew(self, message: QueueMessage) -> None:
        await self.set_visibility(message, self.visibility_timeout_s, renewing=True)

    async def release(self, message: QueueMessage) -> None:
        """Make a message visible at once (shutdown: let another worker take it without waiting)."""
        await self.set_visibility(message, 0)
