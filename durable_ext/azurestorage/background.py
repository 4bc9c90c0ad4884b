"""Storage calls nobody waits for (deleting handled messages), kept track of so shutdown can finish them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .clients import retry_transient

log = logging.getLogger("durable_ext.background")


class BackgroundCalls:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, call: Callable[[], Awaitable[object]], what: str) -> None:
        """Run ``call`` (retrying transient faults) without waiting for it; failures are logged."""
        task = asyncio.get_running_loop().create_task(self._run(call, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, call: Callable[[], Awaitable[object]], what: str) -> None:
        try:
            await retry_transient(call, what, attempts=4)
        except Exception as exc:  # the message reappears after its visibility timeout and is dropped then
            log.warning("%s failed: %s", what, exc)

    async def drain(self) -> None:
        """Wait for every call started so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
