"""Time skipping: when the engine has nothing it could run, durable time jumps to the next due message.

So a timer days ahead fires as soon as everything before it is done, and an orchestration that sleeps
for a month completes in milliseconds. The decision is taken on the event loop, where every change to
the hub happens, and only once the hub has stayed idle across a short settle, so that work in flight
(a completion on its way back) lands first. ``hold_time`` suspends skipping (the clock still runs at
wall speed and can be moved by hand).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol

from ..core.clock import VirtualClock

log = logging.getLogger("durable_ext.memory")

_YIELDS = 3
"""Turns of the event loop given to work in flight before the settle's short sleep."""


class IdleHub(Protocol):
    @property
    def epoch(self) -> int:
        """Grows with every change to the hub."""
        ...

    def is_idle(self) -> bool: ...

    def next_due(self) -> datetime | None: ...

    def deliver_due(self) -> None: ...


class TimeSkipper:
    def __init__(self, clock: VirtualClock, hub: IdleHub, settle_s: float) -> None:
        self.clock = clock
        self.hub = hub
        self.settle_s = settle_s
        self.enabled = False
        self.held = False
        self.skips = 0
        """How often the clock was moved ahead."""
        self._task: asyncio.Task[None] | None = None

    def consider(self) -> None:
        """Start a skip if the hub is idle with a message due later (on the loop, after any change)."""
        if self._task is None and self._may_skip():
            self._task = asyncio.get_running_loop().create_task(self._skip(), name="memory-time-skip")

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _may_skip(self) -> bool:
        return self.enabled and not self.held and self.hub.next_due() is not None and self.hub.is_idle()

    async def _skip(self) -> None:
        try:
            while self._may_skip():
                epoch = self.hub.epoch
                await self._settle()
                if self.hub.epoch == epoch and self._may_skip():
                    self._jump()
                    break
        finally:
            self._task = None
        asyncio.get_running_loop().call_soon(self.consider)  # idle still, with a later message due

    async def _settle(self) -> None:
        for _ in range(_YIELDS):
            await asyncio.sleep(0)
        await asyncio.sleep(self.settle_s)

    def _jump(self) -> None:
        when = self.hub.next_due()
        if when is None:
            return
        if when <= self.clock.now():  # due already: its wake-up has not run yet
            self.hub.deliver_due()
            return
        log.debug("Time skipping: durable time jumps %s ahead to %s", when - self.clock.now(), when)
        self.skips += 1
        self.clock.jump_to(when)
