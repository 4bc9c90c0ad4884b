"""Partition lease blobs in ``<hub>-leases``: ``intent/<queue>`` and ``ownership/<queue>``.

Each blob holds the reference's JSON (``PartitionId``, ``Owner``, ``Token``, ``Epoch``, and the owner's
``WakeAddress``, where other workers signal it) and carries a blob lease whose id is the ``Token``. The
same fields go in the blob's metadata, so one listing of the container reads every lease at once. A
lease is held while its blob lease is live; it is free when the blob lease is available or expired.
Taking a leased blob from its holder (stealing) changes the lease to a new id, which only the lease's
id allows, and that id is what the blob's content records; of two workers stealing one lease at once,
one wins. Leases are taken for good (infinite) and never renewed: whether their owner is alive is what
its worker lease (``workers/<id>``, :mod:`.worker_lease`) says, read in the same listing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from azure.core.exceptions import HttpResponseError
from azure.storage.blob.aio import BlobLeaseClient, ContainerClient

from .clients import translated
from .worker_lease import worker_of_blob

log = logging.getLogger("durable_ext.leases")

INTENT = "intent"
OWNERSHIP = "ownership"


class LeaseLostError(Exception):
    """The lease was taken by another worker, or it expired."""


@dataclass
class PartitionLease:
    kind: str
    partition: str
    owner: str | None
    token: str | None
    epoch: int
    held: bool
    """True when the blob lease is live (some worker holds it)."""
    address: str | None = None
    """Where the owner takes wake-up signals (``host:port``), if it does."""
    infinite: bool = False
    """Held for good (this version's leases): it ends when released, or is taken from a dead owner.
    A finite lease (the reference's, an older version's) expires by itself when not renewed."""

    def held_by(self, worker_id: str) -> bool:
        return self.held and self.owner == worker_id


@dataclass
class LeaseSnapshot:
    """Every partition's two leases as one listing saw them."""

    intent: dict[str, PartitionLease]
    ownership: dict[str, PartitionLease]
    workers: dict[str, bool] = field(default_factory=dict)
    """Every worker with a worker lease blob, and whether that lease is live."""

    def dead(self, lease: PartitionLease) -> bool:
        """Held for good by a worker whose worker lease is gone: take it over."""
        return lease.held and lease.infinite and not self.workers.get(lease.owner or "", False)


class LeaseBlobs:
    def __init__(self, container: ContainerClient, worker_id: str) -> None:
        self.container = container
        self.worker_id = worker_id
        self.address: str | None = None
        """This worker's wake-up address, written into the leases it takes."""

    def _blob(self, kind: str, partition: str):  # type: ignore[no-untyped-def]
        return self.container.get_blob_client(f"{kind}/{partition}")

    async def read(self, kind: str, partition: str) -> PartitionLease:
        blob = self._blob(kind, partition)
        async with translated(f"Reading lease '{kind}/{partition}'"):
            downloader = await blob.download_blob()
            content = await downloader.readall()
            lease = downloader.properties.lease
        return _lease(kind, partition, _parse(content), lease.state, lease.duration)

    async def read_all(self, kind: str, partitions: list[str]) -> list[PartitionLease]:
        snapshot = await self.snapshot(partitions)
        return list((snapshot.intent if kind == INTENT else snapshot.ownership).values())

    async def snapshot(self, partitions: list[str]) -> LeaseSnapshot:
        """Both leases of every partition: one listing, plus a read of any blob whose metadata does not
        describe it (written by the reference or an older version, or never taken)."""
        listed, workers = await self._listing()
        found = {(lease.kind, lease.partition): lease for lease in listed}
        tables: dict[str, dict[str, PartitionLease]] = {INTENT: {}, OWNERSHIP: {}}
        for kind, table in tables.items():
            for partition in partitions:
                table[partition] = found.get((kind, partition)) or await self.read(kind, partition)
        return LeaseSnapshot(tables[INTENT], tables[OWNERSHIP], workers)

    async def list_all(self) -> list[PartitionLease]:
        """Every lease whose blob's metadata describes it, from one listing of the container."""
        return (await self._listing())[0]

    async def _listing(self) -> tuple[list[PartitionLease], dict[str, bool]]:
        leases = []
        workers: dict[str, bool] = {}
        async with translated("Listing the partition leases"):
            async for blob in self.container.list_blobs(include=["metadata"]):
                name = str(blob.name)
                kind, _, partition = name.partition("/")
                metadata = blob.metadata or {}
                if kind in (INTENT, OWNERSHIP) and partition and "epoch" in metadata:
                    fields = {key: unquote(value) for key, value in metadata.items()}
                    data = _from_metadata(fields)
                    leases.append(_lease(kind, partition, data, blob.lease.state, blob.lease.duration))
                elif (worker := worker_of_blob(name)) is not None:
                    workers[worker] = blob.lease.state == "leased"
        return leases, workers

    async def acquire(self, lease: PartitionLease, *, steal: bool) -> PartitionLease:
        """Take a free lease for good, or (``steal``) a held one; :class:`LeaseLostError` if another
        worker won it first."""
        if lease.held and (not steal or not lease.token):
            raise LeaseLostError(f"{lease.kind}/{lease.partition} is held by {lease.owner}")
        token = str(uuid.uuid4())
        current = lease.token if lease.held else token  # a steal changes the holder's lease id
        blob = self._blob(lease.kind, lease.partition)
        client = BlobLeaseClient(blob, lease_id=current)
        taken = PartitionLease(
            lease.kind, lease.partition, self.worker_id, token, lease.epoch + 1, True, self.address, True
        )
        async with translated(f"Acquiring lease '{lease.kind}/{lease.partition}'"), _lost_on_conflict(lease):
            if lease.held:
                await client.change(token)
                if not lease.infinite:  # taken from an older version's worker: now held for good
                    await BlobLeaseClient(blob, lease_id=token).acquire(lease_duration=-1)
            else:
                await client.acquire(lease_duration=-1)
            await self._write(taken, token)
        return taken

    async def release(self, lease: PartitionLease) -> None:
        """Give the lease up at once (others need not wait for it to expire)."""
        client = BlobLeaseClient(self._blob(lease.kind, lease.partition), lease_id=lease.token)
        freed = PartitionLease(lease.kind, lease.partition, None, None, lease.epoch, held=False)
        try:
            async with (
                translated(f"Releasing lease '{lease.kind}/{lease.partition}'"),
                _lost_on_conflict(lease),
            ):
                await self._write(freed, lease.token)
                await client.release()
        except LeaseLostError:
            log.info("Lease %s/%s was already lost when released", lease.kind, lease.partition)

    async def _write(self, lease: PartitionLease, lease_id: str | None) -> None:
        body = {
            "PartitionId": lease.partition,
            "Owner": lease.owner,
            "Token": lease.token,
            "Epoch": lease.epoch,
            "WakeAddress": lease.address,
        }
        metadata = {key.lower(): quote(str(value)) for key, value in body.items() if value is not None}
        blob = self._blob(lease.kind, lease.partition)
        await blob.upload_blob(json.dumps(body), overwrite=True, lease=lease_id, metadata=metadata)


@contextlib.asynccontextmanager
async def _lost_on_conflict(lease: PartitionLease) -> AsyncIterator[None]:
    """409 and 412 on a lease mean another worker has it (or it expired): the lease is lost."""
    try:
        yield
    except HttpResponseError as exc:
        if exc.status_code in (409, 412):
            raise LeaseLostError(f"{lease.kind}/{lease.partition}: {exc.reason}") from exc
        raise


def _lease(
    kind: str, partition: str, data: dict[str, Any], state: str | None, duration: str | None
) -> PartitionLease:
    address = data.get("WakeAddress")
    return PartitionLease(
        kind,
        partition,
        data.get("Owner"),
        data.get("Token"),
        int(data.get("Epoch") or 0),
        held=state in ("leased", "breaking"),
        address=str(address) if address else None,
        infinite=duration == "infinite",
    )


def _from_metadata(fields: dict[str, str]) -> dict[str, Any]:
    names = {"owner": "Owner", "token": "Token", "epoch": "Epoch", "wakeaddress": "WakeAddress"}
    return {names[key]: value for key, value in fields.items() if key in names}


def _parse(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
