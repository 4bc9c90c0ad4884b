"""Durable time in tests: time skipping, explicit steps, and the hold that keeps a test's steps in order.

On the memory provider durable time is a virtual clock. With time skipping on, the provider moves it to
the next due timer whenever no work is runnable, so an orchestration that waits three days finishes at
once. That alone would race a test's own steps: after ``start`` the orchestration creates its timer
and waits, the engine is idle, and the three days pass before the test's ``raise_event`` arrives. So the
test host *holds* durable time (the provider skips nothing) from each call that changes the hub until
the next call that waits; a wait lets time skip while it waits and holds it again when it returns.

On Azure Storage durable time is the wall clock: nothing here moves it, and asking to says so.

What changes the hub's switches runs on the host's event loop (the test host sends it there); the
reads are plain attribute reads, safe from the test's thread.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar, cast

from ..core.clock import WALL_CLOCK, VirtualClock

T = TypeVar("T")

NEEDS_MEMORY = (
    "Time skipping and advance() need the memory provider, where durable time is a virtual clock; on "
    "Azure Storage (Azurite) durable time is the wall clock. Run the test on memory (the default; remove "
    "storage='azurite' from @pytest.mark.durable or --durable-storage azurite)."
)


class TimeSkipping(Protocol):
    """What the memory provider offers a test: its virtual clock and the switches over skipping."""

    clock: VirtualClock
    time_skipping: bool
    hold_time: bool

    async def until_idle(self, timeout_s: float) -> None: ...


class TimeControl:
    """Time skipping, the hold and ``advance`` for one host's task hub (a no-op hold on Azure Storage)."""

    def __init__(self, service: object) -> None:
        clock = getattr(service, "clock", None)
        self._service = cast(TimeSkipping, service) if isinstance(clock, VirtualClock) else None

    @property
    def virtual(self) -> bool:
        """True when durable time is a virtual clock (the memory provider)."""
        return self._service is not None

    def now(self) -> datetime:
        return self._service.clock.now() if self._service is not None else WALL_CLOCK.now()

    @property
    def time_skipping(self) -> bool:
        return self._service is not None and self._service.time_skipping

    @time_skipping.setter
    def time_skipping(self, on: bool) -> None:
        if self._service is None:
            if on:
                raise RuntimeError(NEEDS_MEMORY)
            return
        self._service.time_skipping = on

    @property
    def held(self) -> bool:
        return self._service is not None and self._service.hold_time

    def hold(self, on: bool = True) -> None:
        """Keep durable time where it is (``on``) or let it skip again."""
        if self._service is not None:
            self._service.hold_time = on

    async def changing(self, change: Awaitable[T]) -> T:
        """Run a call that changes the hub, holding time first so nothing skips before the next wait."""
        self.hold()
        return await change

    async def waiting(self, wait: Awaitable[T]) -> T:
        """Run a call that waits, letting time skip meanwhile; time is held again when it returns."""
        self.hold(False)
        try:
            return await wait
        finally:
            self.hold()

    async def advance(self, delta: timedelta, timeout_s: float) -> datetime:
        """Move durable time ahead by ``delta``, then wait until the engine is idle, time held meanwhile
        so that it does not skip further; durable now."""
        if self._service is None:
            raise RuntimeError(NEEDS_MEMORY)
        self.hold()
        self._service.clock.advance(delta)
        await self._service.until_idle(timeout_s)  # TimeoutError saying what still runs
        return self._service.clock.now()
