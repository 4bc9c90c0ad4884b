"""Durable time: the clock the engine, the providers and the timer triggers read.

Orchestration time (the timestamps of history events, so ``current_utc_datetime``), timer due times,
scheduled starts and entity signals all follow the clock of the host's event loop. It is the wall clock
unless the host runs on the memory provider, whose :class:`VirtualClock` runs at wall speed from an
offset that tests move ahead (``advance``) or that time skipping moves to the next due timer.

One host runs on one event loop, so the clock is looked up by the running loop: two hosts in one
process (a test session with a memory host and an Azurite host) each keep their own. Code outside a
loop (activities and other user code in threads) keeps the wall clock, as it does in Azure.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

LONGEST_SLEEP_S = 30.0
"""A sleeper looks at the clock again at least this often (a virtual clock may be moved meanwhile)."""


class Clock:
    """The wall clock."""

    virtual = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    def seconds_until(self, when: datetime) -> float:
        """Wall seconds until ``when`` on this clock (0 when it has passed)."""
        return max(0.0, (when - self.now()).total_seconds())

    async def sleep_until(self, when: datetime) -> None:
        """Return once this clock has reached ``when``."""
        while (remaining := self.seconds_until(when)) > 0:  # noqa: ASYNC110 (the wall clock moves by itself)
            await asyncio.sleep(min(remaining, LONGEST_SLEEP_S))


class VirtualClock(Clock):
    """Wall time plus an offset that only grows: durable time under a test's control."""

    virtual = True

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._moved: set[Callable[[], None]] = set()
        self._sleepers: set[asyncio.Future[None]] = set()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        """Move durable time ahead by ``delta`` (timers due meanwhile become due at once)."""
        if delta < timedelta(0):
            raise ValueError(f"Durable time only moves forward; advance({delta}) would move it back.")
        if delta:
            self.offset += delta
            self._notify()

    def jump_to(self, when: datetime) -> None:
        """Move durable time ahead to ``when`` (nothing happens when it is already past)."""
        gap = when - self.now()
        if gap > timedelta(0):
            self.advance(gap)

    def on_moved(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` each time the clock is moved; returns the function that stops it."""
        self._moved.add(callback)
        return lambda: self._moved.discard(callback)

    def _notify(self) -> None:
        for sleeper in list(self._sleepers):  # the clock may be moved from another thread
            sleeper.get_loop().call_soon_threadsafe(_wake, sleeper)
        for callback in list(self._moved):
            callback()

    async def sleep_until(self, when: datetime) -> None:
        loop = asyncio.get_running_loop()
        while (remaining := self.seconds_until(when)) > 0:
            moved: asyncio.Future[None] = loop.create_future()
            self._sleepers.add(moved)
            try:
                await asyncio.wait({moved}, timeout=min(remaining, LONGEST_SLEEP_S))
            finally:
                self._sleepers.discard(moved)


def _wake(sleeper: asyncio.Future[None]) -> None:
    if not sleeper.done():
        sleeper.set_result(None)


WALL_CLOCK = Clock()
_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Clock] = weakref.WeakKeyDictionary()


def use_clock(clock: Clock, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Make ``clock`` durable time for everything running on ``loop`` (default: the running one)."""
    _clocks[loop or asyncio.get_running_loop()] = clock


def current_clock() -> Clock:
    """The clock of the running event loop; the wall clock outside one."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return WALL_CLOCK
    return _clocks.get(loop, WALL_CLOCK)


def utc_now() -> datetime:
    """Durable now: timezone-aware UTC on the running loop's clock."""
    return current_clock().now()


def restore_clock(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Give ``loop`` (default: the running one) the wall clock again."""
    _clocks.pop(loop or asyncio.get_running_loop(), None)
