"""Blob receipts: the record that one function has been given one version of one blob.

A receipt is an empty blob in the host account's ``azure-webjobs-hosts`` container, named
``blobreceipts/{hostId}/Host.Functions.<function>/{etag}/{container}/{blob}`` as the Functions host names
it. It is created with metadata ``Incomplete`` (If-None-Match ``*``, so only one worker creates it),
leased while its trigger message is queued, and completed (the metadata removed) once it is. A complete
receipt means that version is handled: every worker of the app and every later start skips it. A
receipt left incomplete (its worker stopped half way) is taken over by the next worker whose lease
succeeds. Receipts are never deleted; deleting one makes its blob version run again.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobClient, BlobLeaseClient, ContainerClient

from durable_ext.azurestorage.clients import translated

from .blob_paths import BlobPath

log = logging.getLogger("durable_ext.blob_trigger")

HOSTS_CONTAINER = "azure-webjobs-hosts"
INCOMPLETE = "Incomplete"
RECEIPT_LEASE_S = 30


def function_id(function_name: str) -> str:
    """The id the Functions host gives a script function in receipts and trigger messages."""
    return f"Host.Functions.{function_name}"


class ReceiptState(enum.Enum):
    MISSING = "missing"
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"


class BlobReceipts:
    """The receipts of one host id, in the host account's ``azure-webjobs-hosts`` container."""

    def __init__(self, hosts: ContainerClient, host_id: str) -> None:
        self._hosts = hosts
        self._host_id = host_id

    def receipt_name(self, function: str, etag: str, path: BlobPath) -> str:
        return f"blobreceipts/{self._host_id}/{function}/{etag}/{path.container}/{path.name}"

    async def state(self, function: str, etag: str, path: BlobPath) -> ReceiptState:
        return await self._state(self._receipt(function, etag, path))

    async def handle_once(
        self, function: str, etag: str, path: BlobPath, enqueue: Callable[[], Awaitable[None]]
    ) -> bool:
        """Run ``enqueue`` unless ``function`` has been given this blob version already.

        True when the receipt is complete afterwards (completed now, or before); False when another
        worker holds its lease (it is queuing the message; the caller looks again later).
        """
        receipt = self._receipt(function, etag, path)
        state = await self._state(receipt)
        if state is ReceiptState.COMPLETE:
            return True
        if state is ReceiptState.MISSING:
            await self._create(receipt)
        lease = await self._try_lease(receipt)
        if lease is None:
            return False
        try:
            if await self._state(receipt) is ReceiptState.COMPLETE:
                return True
            await enqueue()
            async with translated(f"Completing blob receipt '{receipt.blob_name}'"):
                await receipt.set_blob_metadata({}, lease=lease)
            return True
        finally:
            with contextlib.suppress(Exception):
                await lease.release()

    def _receipt(self, function: str, etag: str, path: BlobPath) -> BlobClient:
        return self._hosts.get_blob_client(self.receipt_name(function, etag, path))

    async def _state(self, receipt: BlobClient) -> ReceiptState:
        async with translated(f"Reading blob receipt '{receipt.blob_name}'"):
            try:
                props = await receipt.get_blob_properties()
            except ResourceNotFoundError:
                return ReceiptState.MISSING
        metadata = {key.lower() for key in props.metadata or {}}
        return ReceiptState.INCOMPLETE if INCOMPLETE.lower() in metadata else ReceiptState.COMPLETE

    async def _create(self, receipt: BlobClient) -> None:
        """Create the receipt, incomplete, unless it exists (another worker may create it first)."""
        async with translated(f"Creating blob receipt '{receipt.blob_name}'"):
            for _ in range(2):
                try:
                    await receipt.upload_blob(b"", overwrite=False, metadata={INCOMPLETE: INCOMPLETE})
                    return
                except ResourceExistsError:
                    return
                except ResourceNotFoundError:
                    with contextlib.suppress(ResourceExistsError):
                        await self._hosts.create_container()

    async def _try_lease(self, receipt: BlobClient) -> BlobLeaseClient | None:
        lease = BlobLeaseClient(receipt)
        async with translated(f"Leasing blob receipt '{receipt.blob_name}'"):
            try:
                await lease.acquire(lease_duration=RECEIPT_LEASE_S)
            except HttpResponseError as exc:
                if exc.status_code == 409:
                    return None
                raise
        return lease
