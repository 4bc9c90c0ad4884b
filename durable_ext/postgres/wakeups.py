"""LISTEN/NOTIFY: a worker looks for work the moment another process commits some.

Every transaction that adds instance messages or activity messages ends with ``pg_notify`` on the
hub's channel (delivered at commit), saying which kind and, for a delayed message, when it is due. A
worker keeps one connection listening and wakes its fetch loops; a delayed message wakes them when due.
Notifications are only a shortcut: a fetch loop that hears nothing still looks again after a back-off
(50 ms doubling up to ``max_polling_interval_s``), and after the listening connection is lost and made
again, so nothing waits for a notification that was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from datetime import datetime

import asyncpg

log = logging.getLogger("durable_ext.postgres")

EVENTS = "e"
TASKS = "t"
FIRST_DELAY_S = 0.05
RECONNECT_S = 1.0


def channel_of(schema: str, hub: str) -> str:
    """The hub's channel name (an identifier of at most 63 bytes, whatever the hub's name)."""
    return f"durable_{schema}_{zlib.crc32(hub.encode()):08x}"


def notice(kind: str, due: datetime | None = None) -> str:
    """A notification's payload: the kind of message, and when it is due if later than now."""
    return f"{kind}:{int(due.timestamp() * 1000)}" if due is not None else kind


class Backoff:
    """How long a fetch loop waits when it found nothing: doubling, reset when it finds work."""

    def __init__(self, ceiling_s: float) -> None:
        self.ceiling_s = ceiling_s
        self.delay_s = FIRST_DELAY_S

    def found(self) -> None:
        self.delay_s = FIRST_DELAY_S

    def next(self) -> float:
        delay, self.delay_s = self.delay_s, min(self.ceiling_s, self.delay_s * 2)
        return delay


class Wakeups:
    """The listening connection, and an event per message kind that fetch loops wait on."""

    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = dsn
        self.channel = channel
        self.events = {EVENTS: asyncio.Event(), TASKS: asyncio.Event()}
        self.received = 0
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._timers: list[asyncio.TimerHandle] = []

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._keep_listening(), name=f"listen-{self.channel}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        await self._disconnect()

    async def wait(self, kind: str, timeout_s: float) -> None:
        """Until a notification of ``kind`` arrives (or came since the last wait), at most ``timeout_s``."""
        event = self.events[kind]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)
        event.clear()

    def wake(self, kind: str, due: datetime | None = None) -> None:
        """Wake the fetch loop of ``kind`` now, or when ``due``."""
        if due is not None:
            delay = due.timestamp() - time.time()
            if delay > 0:
                loop = asyncio.get_running_loop()
                self._timers = [t for t in self._timers if not t.cancelled()]
                self._timers.append(loop.call_later(delay + 0.01, self.events[kind].set))
                return
        self.events[kind].set()

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.received += 1
        kind, _, due_ms = payload.partition(":")
        if kind in self.events:
            self.wake(kind, datetime.fromtimestamp(int(due_ms) / 1000).astimezone() if due_ms else None)

    async def _keep_listening(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self.dsn)
                self._conn = conn
                await conn.add_listener(self.channel, self._heard)
                for event in self.events.values():
                    event.set()  # what was committed while nobody listened: look now
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _c, done=closed: done.set())
                await closed.wait()
                log.warning("The notification connection to PostgreSQL closed; listening again")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Cannot listen for notifications from PostgreSQL (%s); retrying", exc)
            await self._disconnect()
            await asyncio.sleep(RECONNECT_S)

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2.0)
