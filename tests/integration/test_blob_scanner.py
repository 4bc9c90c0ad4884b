"""The blob scanner over Azurite: receipts make a blob version queue once, the cursor survives restarts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from azure.storage.blob.aio import BlobLeaseClient, BlobServiceClient

from bindings.storage.blob_paths import BlobPath, BlobPattern
from bindings.storage.blob_receipts import HOSTS_CONTAINER, BlobReceipts, ReceiptState
from bindings.storage.blob_scan_info import ScanInfo
from bindings.storage.blob_scanner import ContainerScanner
from bindings.storage.blob_trigger_messages import BlobTriggerMessage

FUNCTION = "Host.Functions.process"


@pytest.fixture
async def blobs(connection_string: str) -> AsyncIterator[BlobServiceClient]:
    async with BlobServiceClient.from_connection_string(connection_string) as client:
        yield client


@pytest.fixture
def names() -> tuple[str, str]:
    """A container and a host id of the test's own."""
    suffix = uuid.uuid4().hex[:10]
    return f"scan{suffix}", f"host{suffix}"


class Worker:
    """One process's scanner of the container, with the messages it queued."""

    def __init__(self, blobs: BlobServiceClient, container: str, host_id: str) -> None:
        self.queued: list[BlobTriggerMessage] = []
        hosts = blobs.get_container_client(HOSTS_CONTAINER)
        self.receipts = BlobReceipts(hosts, host_id)
        self.scanner = ContainerScanner(
            blobs=blobs,
            container=container,
            scan_info=ScanInfo(blobs, host_id, str(blobs.account_name), container),
            receipts=self.receipts,
            enqueue=self._enqueue,
            interval_s=60.0,
        )
        self.scanner.add(FUNCTION, BlobPattern.parse(f"{container}/{{name}}.txt", "test"))

    async def _enqueue(self, message: BlobTriggerMessage) -> None:
        self.queued.append(message)


async def _upload(blobs: BlobServiceClient, container: str, name: str, data: bytes) -> str:
    client = blobs.get_blob_client(container, name)
    result = await client.upload_blob(data, overwrite=True)
    return str(result["etag"])


async def test_a_blob_version_is_queued_once_whichever_worker_sees_it(
    blobs: BlobServiceClient, names: tuple[str, str]
) -> None:
    container, host_id = names
    await blobs.create_container(container)
    first, second = Worker(blobs, container, host_id), Worker(blobs, container, host_id)
    etag = await _upload(blobs, container, "a.txt", b"1")
    await _upload(blobs, container, "ignored.csv", b"2")
    first.scanner.written("a.txt")
    second.scanner.written("a.txt")
    for _ in range(2):
        await first.scanner.scan_once()
        await second.scanner.scan_once()
    queued = first.queued + second.queued
    assert [(m.blob_name, m.etag, m.function_id, m.blob_type) for m in queued] == [
        ("a.txt", etag, FUNCTION, "BlockBlob")
    ]
    path = BlobPath(container, "a.txt")
    assert await first.receipts.state(FUNCTION, etag, path) is ReceiptState.COMPLETE
    receipt = first.receipts.receipt_name(FUNCTION, etag, path)
    assert receipt == f"blobreceipts/{host_id}/{FUNCTION}/{etag}/{container}/a.txt"
    listed = [
        b.name
        async for b in blobs.get_container_client(HOSTS_CONTAINER).list_blobs(f"blobreceipts/{host_id}/")
    ]
    assert listed == [receipt]  # none for the blob the pattern does not match


async def test_the_cursor_is_stored_and_a_restarted_worker_runs_only_new_versions(
    blobs: BlobServiceClient, names: tuple[str, str]
) -> None:
    container, host_id = names
    await blobs.create_container(container)
    await _upload(blobs, container, "a.txt", b"1")
    await _upload(blobs, container, "b.txt", b"1")
    before = Worker(blobs, container, host_id)
    await before.scanner.scan_once()
    assert sorted(m.blob_name for m in before.queued) == ["a.txt", "b.txt"]
    stored = await ScanInfo(blobs, host_id, str(blobs.account_name), container).read()
    newest = max([b.last_modified async for b in blobs.get_container_client(container).list_blobs()])
    assert stored == newest

    after = Worker(blobs, container, host_id)
    await after.scanner.scan_once()
    assert after.queued == []
    changed = await _upload(blobs, container, "b.txt", b"2")
    await after.scanner.scan_once()
    assert [(m.blob_name, m.etag) for m in after.queued] == [("b.txt", changed)]


async def test_a_receipt_another_worker_holds_is_looked_at_again(
    blobs: BlobServiceClient, names: tuple[str, str]
) -> None:
    container, host_id = names
    await blobs.create_container(container)
    etag = await _upload(blobs, container, "held.txt", b"1")
    worker = Worker(blobs, container, host_id)
    receipt = blobs.get_blob_client(
        HOSTS_CONTAINER, worker.receipts.receipt_name(FUNCTION, etag, BlobPath(container, "held.txt"))
    )
    await receipt.upload_blob(b"", overwrite=True, metadata={"Incomplete": "Incomplete"})
    lease = BlobLeaseClient(receipt)
    await lease.acquire(lease_duration=15)
    held = await blobs.get_blob_client(container, "held.txt").get_blob_properties()
    newer = await _upload_until_later(blobs, container, "newer.txt", held.last_modified)
    await worker.scanner.scan_once()
    assert [m.blob_name for m in worker.queued] == ["newer.txt"]
    cursor = await ScanInfo(blobs, host_id, str(blobs.account_name), container).read()
    assert cursor == held.last_modified < newer  # the pass ended, but the cursor waits for the held blob
    await lease.release()
    await worker.scanner.scan_once()
    assert [m.blob_name for m in worker.queued] == ["newer.txt", "held.txt"]
    cursor = await ScanInfo(blobs, host_id, str(blobs.account_name), container).read()
    assert cursor == newer


async def _upload_until_later(
    blobs: BlobServiceClient, container: str, name: str, than: datetime
) -> datetime:
    """Write blob ``name`` until its modification time (whole seconds) is later than ``than``."""
    deadline = asyncio.get_running_loop().time() + 5
    while asyncio.get_running_loop().time() < deadline:
        await _upload(blobs, container, name, b"x")
        modified = (await blobs.get_blob_client(container, name).get_blob_properties()).last_modified
        if modified > than:
            return modified
        await asyncio.sleep(0.1)
    raise AssertionError("the blob's modification time did not move on")
