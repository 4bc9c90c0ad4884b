"""A worker's liveness lease: ``workers/<worker id>`` in ``<hub>-leases``.

Partition leases are taken for good (infinite blob leases) and never renewed; what expires instead is
this one lease per worker, renewed every ``renew_interval_s``. A partition lease whose owner's worker
lease is no longer live belongs to a dead worker and is taken over. So an idle worker renews one lease
instead of two per partition, and a worker that cannot renew in time stops dequeuing by itself before
any other worker may consider it dead (``fenced``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from urllib.parse import quote, unquote

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob.aio import BlobLeaseClient, ContainerClient

from .clients import translated

log = logging.getLogger("durable_ext.partitions")

WORKERS = "workers"
FENCE_MARGIN_FRACTION = 0.2
"""A worker stops dequeuing this share of the lease before the lease can have expired."""


def worker_blob_name(worker_id: str) -> str:
    return f"{WORKERS}/{quote(worker_id, safe='')}"


def worker_of_blob(name: str) -> str | None:
    """The worker id of a ``workers/`` blob, None for any other blob."""
    kind, _, quoted = name.partition("/")
    return unquote(quoted) if kind == WORKERS and quoted else None


class WorkerLease:
    def __init__(self, container: ContainerClient, worker_id: str, lease_s: int) -> None:
        self.container = container
        self.worker_id = worker_id
        self.lease_s = lease_s
        # one id per worker id: a worker restarted with the same id renews its own lease at once
        self.lease_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"durable-ext-worker:{worker_id}"))
        self.live_until = -1.0
        """Loop time before which the lease is surely live (measured from when the renewal was sent)."""

    @property
    def blob_name(self) -> str:
        return worker_blob_name(self.worker_id)

    def fenced(self, now: float) -> bool:
        """True once other workers may soon consider this one dead: stop dequeuing."""
        return now >= self.live_until - self.lease_s * FENCE_MARGIN_FRACTION

    async def keep(self) -> bool:
        """Renew the lease (taking it, and creating its blob, when needed); False when that failed."""
        loop = asyncio.get_running_loop()
        sent = loop.time()
        blob = self.container.get_blob_client(self.blob_name)
        lease = BlobLeaseClient(blob, lease_id=self.lease_id)
        try:
            async with translated(f"Renewing the worker lease '{self.blob_name}'"):
                try:
                    await lease.acquire(lease_duration=self.lease_s)  # renews it when already ours
                except ResourceNotFoundError:
                    with contextlib.suppress(HttpResponseError):
                        await blob.upload_blob(b"", overwrite=False)
                    await lease.acquire(lease_duration=self.lease_s)
        except Exception as exc:
            log.warning("%s could not renew its worker lease: %s", self.worker_id, exc)
            return False
        self.live_until = sent + self.lease_s
        return True

    async def end(self) -> None:
        """A worker's clean stop: release the lease and delete the blob (after its partition leases)."""
        blob = self.container.get_blob_client(self.blob_name)
        with contextlib.suppress(Exception):
            await blob.delete_blob(lease=self.lease_id)
        self.live_until = -1.0

    async def is_live(self, worker_id: str) -> bool:
        """Whether another worker's lease is live now (one read, to confirm what a listing showed)."""
        blob = self.container.get_blob_client(worker_blob_name(worker_id))
        async with translated(f"Reading the worker lease '{worker_blob_name(worker_id)}'"):
            try:
                properties = await blob.get_blob_properties()
            except ResourceNotFoundError:
                return False
        return bool(properties.lease.state == "leased")

    async def delete_dead(self, worker_id: str) -> None:
        """Delete a dead worker's blob (one whose lease is gone and that holds no partition lease)."""
        blob = self.container.get_blob_client(worker_blob_name(worker_id))
        with contextlib.suppress(HttpResponseError):  # leased again (it came back) or already gone
            await blob.delete_blob()
