"""The app lease: one app at a time runs workers on a task hub (the reference's ``AppLeaseManager``).

The lease is on the ``<hub>-applease`` container and its id is derived from the app's name, so every
worker process of one app shares it (acquiring a lease with its own id renews it) and a second app on
the same hub is kept out. Unlike the reference, which then stays silent for five minutes, a worker
that cannot get the lease says so at once, names the lease that holds the hub, and retries often.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError
from azure.storage.blob.aio import BlobLeaseClient, ContainerClient

from .clients import translated
from .routing import fnv1a32

log = logging.getLogger("durable_ext.app_lease")


@dataclass(frozen=True)
class AppLeaseOptions:
    lease_s: int = 60
    renew_interval_s: float = 25.0
    acquire_interval_s: float = 30.0


def app_lease_id(app_name: str) -> str:
    """The reference's id: the FNV-1a hash of the app name as the first field of a GUID."""
    return f"{fnv1a32(app_name):08x}-0000-0000-0000-000000000000"


class AppLease:
    def __init__(
        self,
        container: ContainerClient,
        info_blob: str,
        app_name: str,
        options: AppLeaseOptions,
        on_acquired: Callable[[], Awaitable[None]],
        on_lost: Callable[[], Awaitable[None]],
    ) -> None:
        self.container = container
        self.info_blob = info_blob
        self.app_name = app_name
        self.lease_id = app_lease_id(app_name)
        self.options = options
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.held = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="app-lease")

    async def stop(self) -> None:
        """Stop renewing. The lease is not released: the app's other workers share it, and releasing
        it would stop them all; it expires ``lease_s`` after the app's last worker stops."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.held = False

    async def _loop(self) -> None:
        while True:
            try:
                if not self.held:
                    await self._try_acquire()
                else:
                    await self._renew()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("App lease of '%s': %s", self.app_name, exc)
            delay = self.options.renew_interval_s if self.held else self.options.acquire_interval_s
            await asyncio.sleep(delay)

    async def _try_acquire(self) -> None:
        lease = BlobLeaseClient(self.container, lease_id=self.lease_id)
        try:
            async with translated(f"Acquiring the app lease on '{self.container.container_name}'"):
                await lease.acquire(lease_duration=self.options.lease_s)
        except Exception as exc:
            if not _is_conflict(exc):
                raise
            holder = await self._holder()
            log.warning(
                "Task hub container '%s' is leased by another app (lease %s); this app ('%s', lease %s) "
                "processes nothing until that app stops or its lease expires. Retrying every %.0f s. "
                "Give the apps different hub names, or set useAppLease to false to share the hub.",
                self.container.container_name,
                holder,
                self.app_name,
                self.lease_id,
                self.options.acquire_interval_s,
            )
            return
        self.held = True
        await self._write_info()
        log.info("App '%s' holds the app lease of '%s'", self.app_name, self.container.container_name)
        await self.on_acquired()

    async def _renew(self) -> None:
        try:
            async with translated("Renewing the app lease"):
                await BlobLeaseClient(self.container, lease_id=self.lease_id).renew()
        except Exception as exc:
            if not _is_conflict(exc):
                raise
            self.held = False
            log.warning("App '%s' lost the app lease; it stops processing", self.app_name)
            await self.on_lost()

    async def _holder(self) -> str:
        with contextlib.suppress(Exception):
            data = await (await self.container.download_blob(self.info_blob)).readall()
            return str(json.loads(data or b"{}").get("OwnerId") or "unknown")
        return "unknown"

    async def _write_info(self) -> None:
        info = json.dumps({"OwnerId": self.lease_id, "DesiredSwapId": None})
        with contextlib.suppress(Exception):
            await self.container.upload_blob(self.info_blob, info, overwrite=True)


def _is_conflict(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, HttpResponseError) and exc.status_code in (409, 412):
            return True
        exc = exc.__cause__  # type: ignore[assignment]
    return False
