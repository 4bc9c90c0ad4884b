"""A lock every worker of the app shares: a lease on a blob in ``azure-webjobs-hosts/locks/{hostId}/``.

This is the Functions host's singleton lock, which its timer listener holds: the worker holding the
lease runs the schedule, the others retry every recovery interval, and a worker that dies stops
renewing, so its lease expires and another takes over. Periods from host.json ``singleton``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobLeaseClient, BlobServiceClient

from durable_ext.errors import ConfigurationError
from durable_ext.extension.options import parse_time_span_s

if TYPE_CHECKING:
    from .catalog import Settings

HOSTS_CONTAINER = "azure-webjobs-hosts"
log = logging.getLogger("durable_ext.bindings.singleton")


@dataclass(frozen=True)
class SingletonOptions:
    listener_lock_period_s: float = 60.0
    listener_lock_recovery_polling_interval_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SingletonOptions:
        section = settings.host_section("singleton")
        lowered = {str(k).lower(): v for k, v in section.items()}

        def seconds(key: str, default: float) -> float:
            value = lowered.get(key.lower())
            return default if value is None else parse_time_span_s(str(value))

        period = seconds("listenerLockPeriod", cls.listener_lock_period_s)
        if not 15 <= period <= 60:
            raise ConfigurationError(
                f"host.json singleton.listenerLockPeriod is {period:g} s; a blob lease lasts 15 to 60 "
                "seconds. Use a value from 00:00:15 to 00:01:00."
            )
        recovery = seconds(
            "listenerLockRecoveryPollingInterval", cls.listener_lock_recovery_polling_interval_s
        )
        return cls(period, max(recovery, 0.1))


class BlobLock:
    """One lease on ``locks/{host_id}/{lock_id}``: acquire, renew, release."""

    def __init__(self, blobs: BlobServiceClient, host_id: str, lock_id: str, period_s: float) -> None:
        self._blob = blobs.get_blob_client(HOSTS_CONTAINER, f"locks/{host_id}/{lock_id}")
        self._container = blobs.get_container_client(HOSTS_CONTAINER)
        self.period_s = period_s
        self._lease: BlobLeaseClient | None = None

    @property
    def held(self) -> bool:
        return self._lease is not None

    async def try_acquire(self) -> bool:
        for _ in range(3):
            try:
                self._lease = await self._blob.acquire_lease(lease_duration=int(self.period_s))
                return True
            except ResourceNotFoundError:
                await self._create()
            except HttpResponseError as exc:
                if exc.status_code == 409:
                    return False
                raise
        return False

    async def _create(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self._container.create_container()
        with contextlib.suppress(ResourceExistsError, HttpResponseError):
            await self._blob.upload_blob(b"", overwrite=False)

    async def renew(self) -> bool:
        """Renew the lease; False (and no longer held) if it was lost."""
        if self._lease is None:
            return False
        try:
            await self._lease.renew()
            return True
        except HttpResponseError as exc:
            log.warning("Lost the lock %s: %s", self._blob.blob_name, exc.message)
            self._lease = None
            return False

    async def release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            with contextlib.suppress(HttpResponseError):
                await lease.release()
