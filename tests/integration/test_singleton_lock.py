"""The singleton listener lock on a real blob: one holder, losers retry, a clean stop hands it over."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from azure.storage.blob.aio import BlobLeaseClient, BlobServiceClient

from bindings.singleton import (
    HOSTS_CONTAINER,
    OWNER_METADATA,
    BlobLock,
    LeaseLost,
    SingletonListener,
    SingletonOptions,
)

FAST = SingletonOptions(listener_lock_period_s=15, listener_lock_recovery_polling_interval_s=0.2)


async def eventually(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, f"{what} did not happen in {timeout_s} s"
        await asyncio.sleep(0.05)


@pytest.fixture
async def blobs(connection_string: str) -> AsyncIterator[BlobServiceClient]:
    async with BlobServiceClient.from_connection_string(connection_string) as client:
        yield client


class Inner:
    """A listener that only says whether it runs."""

    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    async def start(self) -> None:
        self.running = True
        self.starts += 1

    async def stop(self) -> None:
        self.running = False


async def test_one_holder_at_a_time_and_a_lost_lease_is_known(blobs: BlobServiceClient) -> None:
    host_id = "t" + uuid.uuid4().hex[:12]
    first = BlobLock(blobs, host_id, "Host.Functions.f.Listener", 15)
    second = BlobLock(blobs, host_id, "Host.Functions.f.Listener", 15)
    assert await first.try_acquire()  # creates the container and the blob
    assert first.surely_held()
    assert not await second.try_acquire()
    await first.renew()
    properties = await blobs.get_blob_client(HOSTS_CONTAINER, first.blob_name).get_blob_properties()
    assert first.blob_name == f"locks/{host_id}/Host.Functions.f.Listener"
    assert properties.lease.state == "leased" and OWNER_METADATA in properties.metadata
    await first.release()
    assert not first.held
    assert await second.try_acquire()
    first_again = BlobLock(blobs, host_id, "Host.Functions.f.Listener", 15)
    assert not await first_again.try_acquire()
    # someone breaks the lease and takes it: the holder's next renewal says it is lost
    breaker = blobs.get_blob_client(HOSTS_CONTAINER, second.blob_name)
    await BlobLeaseClient(breaker).break_lease(lease_break_period=0)
    assert await first_again.try_acquire()
    with pytest.raises(LeaseLost):
        await second.renew()
    assert not second.held and not second.surely_held()
    await first_again.release()


async def test_the_loser_takes_over_when_the_holder_stops(blobs: BlobServiceClient) -> None:
    host_id = "t" + uuid.uuid4().hex[:12]
    inners = [Inner(), Inner()]
    workers = [
        SingletonListener(inner, BlobLock(blobs, host_id, "x.Listener", 15), FAST, f"worker {n}")
        for n, inner in enumerate(inners)
    ]
    for worker in workers:
        await worker.start()

    def running() -> list[int]:
        return [n for n, inner in enumerate(inners) if inner.running]

    await eventually(lambda: len(running()) == 1, 5, "one worker running")
    await asyncio.sleep(0.6)  # the other has retried a few times meanwhile
    assert len(running()) == 1
    holder = running()[0]
    other = 1 - holder
    await workers[holder].stop()
    assert not inners[holder].running
    await eventually(lambda: inners[other].running, 3, "the other worker taking over")
    assert inners[other].starts == 1
    await workers[other].stop()
    properties = await blobs.get_blob_client(
        HOSTS_CONTAINER, workers[other].lock.blob_name
    ).get_blob_properties()
    assert properties.lease.state == "available"  # a clean stop released the lease
