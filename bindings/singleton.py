"""A lock every worker of the app shares: a lease on a blob in ``azure-webjobs-hosts/locks/{hostId}/``.

This is the Functions host's singleton listener lock (its timer listener holds one): the worker holding
the lease runs the listener inside, the others try again every recovery interval, and a worker that
dies stops renewing, so its lease runs out and another takes over. A clean stop releases the lease at
once. Periods come from host.json ``singleton``: ``listenerLockPeriod`` (the lease, 15 to 60 s, renewed
at half of it) and ``listenerLockRecoveryPollingInterval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobLeaseClient, BlobServiceClient

from durable_ext.azurestorage.clients import is_transient
from durable_ext.errors import ConfigurationError
from durable_ext.extension.options import find_key, parse_time_span_s

from .base import Listener

if TYPE_CHECKING:
    from .catalog import Settings

HOSTS_CONTAINER = "azure-webjobs-hosts"
MIN_LEASE_S = 15.0
MAX_LEASE_S = 60.0
OWNER_METADATA = "FunctionInstance"
log = logging.getLogger("durable_ext.bindings.singleton")


@dataclass(frozen=True)
class SingletonOptions:
    """host.json ``singleton``: the listener lock's lease and how often a worker without it retries."""

    listener_lock_period_s: float = 60.0
    listener_lock_recovery_polling_interval_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SingletonOptions:
        section = settings.host_section("singleton")

        def seconds(key: str, default: float) -> float:
            value = find_key(section, key)
            if value is None:
                return default
            try:
                return parse_time_span_s(str(value))
            except ValueError as exc:
                raise ConfigurationError(
                    f"host.json singleton.{key} is {value!r}, which is not a time span: {exc}. "
                    'Write it as hh:mm:ss, e.g. "00:00:30".'
                ) from exc

        period = seconds("listenerLockPeriod", cls.listener_lock_period_s)
        if not MIN_LEASE_S <= period <= MAX_LEASE_S:
            raise ConfigurationError(
                f"host.json singleton.listenerLockPeriod is {period:g} s; a blob lease lasts 15 to 60 "
                "seconds. Use a value from 00:00:15 to 00:01:00."
            )
        recovery = seconds(
            "listenerLockRecoveryPollingInterval", cls.listener_lock_recovery_polling_interval_s
        )
        if recovery <= 0:
            raise ConfigurationError(
                f"host.json singleton.listenerLockRecoveryPollingInterval is {recovery:g} s; it must be "
                'longer than zero, e.g. "00:01:00".'
            )
        return cls(period, recovery)


class LeaseLost(Exception):
    """Another worker holds the lease now, or the lock blob is gone."""


def owner_name() -> str:
    """Who holds a lock, for the lock blob's metadata: the machine and the process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class BlobLock:
    """One lease on ``locks/{host_id}/{lock_id}``: acquire, renew, release."""

    def __init__(self, blobs: BlobServiceClient, host_id: str, lock_id: str, period_s: float) -> None:
        self.blob_name = f"locks/{host_id}/{lock_id}"
        self._blob = blobs.get_blob_client(HOSTS_CONTAINER, self.blob_name)
        self._container = blobs.get_container_client(HOSTS_CONTAINER)
        self.period_s = period_s
        self._lease = BlobLeaseClient(self._blob, lease_id=str(uuid.uuid4()))
        self._held_until = 0.0
        """``time.monotonic()`` before which the lease is surely still ours."""

    @property
    def held(self) -> bool:
        return self._held_until > 0

    def surely_held(self) -> bool:
        """Held, and renewed recently enough that it cannot have run out (a quarter of it to spare)."""
        return time.monotonic() < self._held_until

    def _renewed(self, started: float) -> None:
        self._held_until = started + self.period_s * 0.75

    async def try_acquire(self) -> bool:
        """Take the lease if no one holds it (creating the lock blob if needed); False if someone does."""
        for _ in range(3):
            started = time.monotonic()
            try:
                await self._lease.acquire(lease_duration=int(self.period_s))
            except ResourceNotFoundError:
                await self._create()
                continue
            except HttpResponseError as exc:
                if exc.status_code == 409:
                    return False
                raise
            self._renewed(started)
            with contextlib.suppress(HttpResponseError):
                await self._blob.set_blob_metadata({OWNER_METADATA: owner_name()}, lease=self._lease)
            return True
        return False

    async def _create(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self._container.create_container()
        with contextlib.suppress(ResourceExistsError, HttpResponseError):
            await self._blob.upload_blob(b"", overwrite=False)

    async def renew(self) -> None:
        """Renew the lease; LeaseLost if it is not ours any more (a transient error is raised as is)."""
        if not self.held:
            raise LeaseLost(f"the lease on {self.blob_name} is not held")
        started = time.monotonic()
        try:
            await self._lease.renew()
        except HttpResponseError as exc:
            if is_transient(exc):
                raise
            self._held_until = 0.0
            raise LeaseLost(
                f"the lease on {self.blob_name} was lost: {exc.reason or exc.status_code}"
            ) from exc
        self._renewed(started)

    async def release(self) -> None:
        if not self.held:
            return
        self._held_until = 0.0
        with contextlib.suppress(HttpResponseError):
            await self._lease.release()


class SingletonListener:
    """Runs ``inner`` only while this worker holds ``lock``; the others wait their turn.

    Without the lock it tries again every recovery interval. With it, the inner listener is started and
    the lease renewed at half its period; when the lease is lost (or cannot be renewed before it would
    run out) the inner listener is stopped and the worker goes back to waiting. Stopping stops the inner
    listener, then releases the lease so another worker takes over at once.
    """

    def __init__(self, inner: Listener, lock: BlobLock, options: SingletonOptions, description: str) -> None:
        self.inner = inner
        self.lock = lock
        self._recovery_s = options.listener_lock_recovery_polling_interval_s
        self._description = description
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"singleton {self._description}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                if await self.lock.try_acquire():
                    log.info("%s: this worker holds the lock %s", self._description, self.lock.blob_name)
                    await self._while_held()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "%s: the lock %s failed (%s); trying again", self._description, self.lock.blob_name, exc
                )
            await asyncio.sleep(self._recovery_s)

    async def _while_held(self) -> None:
        try:
            await self.inner.start()
            await self._renew_until_lost()
        finally:
            await asyncio.shield(self._let_go())

    async def _let_go(self) -> None:
        try:
            await self.inner.stop()
        finally:
            await self.lock.release()

    async def _renew_until_lost(self) -> None:
        interval = self.lock.period_s / 2
        while True:
            await asyncio.sleep(interval)
            try:
                await self.lock.renew()
                interval = self.lock.period_s / 2
            except LeaseLost as exc:
                log.warning("%s: %s; another worker takes over", self._description, exc)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if not self.lock.surely_held():
                    log.warning(
                        "%s: could not renew the lease in time (%s); letting go", self._description, exc
                    )
                    return
                interval = 1.0
                log.warning("%s: renewing the lease failed (%s); retrying", self._description, exc)
