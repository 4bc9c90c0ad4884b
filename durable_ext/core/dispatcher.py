"""A work-item dispatcher: fetch items one at a time and process them with bounded concurrency."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger("durable_ext.dispatcher")
T = TypeVar("T")

ERROR_DELAY_S = 1.0


class WorkItemDispatcher(Generic[T]):
    def __init__(
        self,
        name: str,
        fetch: Callable[[], Awaitable[T | None]],
        process: Callable[[T], Awaitable[None]],
        max_concurrency: int,
    ) -> None:
        self.name = name
        self._fetch = fetch
        self._process = process
        self._slots = asyncio.Semaphore(max_concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name=f"{self.name}-dispatcher")

    async def _run(self) -> None:
        while not self._stopping:
            await self._slots.acquire()
            try:
                item = await self._fetch()
            except asyncio.CancelledError:
                self._slots.release()
                raise
            except Exception:
                self._slots.release()
                log.exception("%s dispatcher: fetching the next work item failed", self.name)
                await asyncio.sleep(ERROR_DELAY_S)
                continue
            if item is None:  # the service is stopping
                self._slots.release()
                return
            task = asyncio.create_task(self._guarded(item))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _guarded(self, item: T) -> None:
        try:
            await self._process(item)
        except Exception:
            log.exception("%s dispatcher: processing a work item failed", self.name)
        finally:
            self._slots.release()

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop fetching; wait for in-flight items up to ``timeout_s``, then cancel them."""
        self._stopping = True
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        if self._running:
            _done, pending = await asyncio.wait(set(self._running), timeout=timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
