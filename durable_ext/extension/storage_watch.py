"""Starting the task hub worker when storage answers, and saying what the host waits for meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from ..core.health import StorageHealth
from ..errors import StorageError, TransientStorageError

log = logging.getLogger("durable_ext.storage.watch")

WAIT_INTERVAL_S = 5.0
"""How often a host waiting for storage tries again and says so (also the ``Retry-After`` it sends)."""


class StorageWatch:
    """One line every interval while storage is unavailable, one when it answers again."""

    def __init__(self, health: StorageHealth, interval_s: float = WAIT_INTERVAL_S) -> None:
        self.health = health
        self.interval_s = interval_s
        self.waiting_for = "work resumes when it answers"
        self._down_since: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="storage-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(self.interval_s)

    def check(self) -> None:
        health = self.health
        if health.reachable is False and not health.auth_failed:
            now = time.monotonic()
            if self._down_since is None:
                self._down_since = now
            log.warning(
                "%s for %.0f s; %s. %s",
                health.describe(),
                now - self._down_since,
                self.waiting_for,
                health.advice(),
            )
        elif health.reachable and self._down_since is not None:
            log.info("Storage at %s answers again after %.0f s", health.endpoint, self.down_for_s())
            self._down_since = None

    def down_for_s(self) -> float:
        return 0.0 if self._down_since is None else time.monotonic() - self._down_since


class WorkerStarter:
    """Runs ``start`` until it succeeds, waiting out storage that does not answer yet.

    A credential the account refuses is reported once and not retried: no retry fixes a wrong key.
    """

    def __init__(
        self,
        start: Callable[[], Awaitable[None]],
        watch: StorageWatch,
        interval_s: float = WAIT_INTERVAL_S,
    ) -> None:
        self._start = start
        self.watch = watch
        self.interval_s = interval_s
        self.error: str | None = None
        """Why the worker will not start (a refused credential), for the host's status."""
        self.task: asyncio.Task[None] | None = None

    def begin(self) -> asyncio.Task[None]:
        if self.task is None:
            self.watch.waiting_for = "the task hub worker starts when it answers"
            self.task = asyncio.get_running_loop().create_task(self._run(), name="worker-start")
        return self.task

    async def _run(self) -> None:
        began = time.monotonic()
        while True:
            try:
                await self._start()
            except TransientStorageError:
                await asyncio.sleep(self.interval_s)
                continue
            except StorageError as exc:
                health = self.watch.health
                if not health.auth_failed:
                    raise
                self.error = f"{health.describe()}. {health.advice()}"
                log.error("%s The task hub worker does not start. (%s)", self.error, exc)
                return
            except Exception as exc:
                self.error = f"The task hub worker failed to start: {type(exc).__name__}: {exc}"
                log.exception("%s", self.error)
                raise
            self.watch.waiting_for = "work resumes when it answers"
            waited_s = time.monotonic() - began
            if waited_s > self.interval_s:
                where = self.watch.health.endpoint
                log.info("Storage at %s answers: the task hub worker started after %.0f s", where, waited_s)
            return

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
