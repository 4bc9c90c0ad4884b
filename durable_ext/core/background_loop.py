"""A piece of work run again and again in the background: now, then every interval or when woken."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("durable_ext.background")


class BackgroundLoop:
    """Runs ``body`` at :meth:`start` (or ``first_after_s`` later), then again ``interval_s`` after each
    run ends, or at once when :meth:`wake` is called; an error is logged with ``what`` and the loop goes
    on."""

    def __init__(
        self,
        name: str,
        body: Callable[[], Awaitable[object]],
        interval_s: float,
        what: str,
        first_after_s: float = 0.0,
    ) -> None:
        self.name = name
        self.body = body
        self.interval_s = interval_s
        self.what = what
        self.first_after_s = first_after_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        if self.first_after_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.first_after_s)
        while True:
            self._wake.clear()
            try:
                await self.body()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s failed; trying again in %.0f s: %s", self.what, self.interval_s, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
