"""Several partition managers on one task hub: balance, graceful hand-off, takeover after a crash."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from azure.storage.blob.aio import BlobLeaseClient, BlobServiceClient

from durable_ext.azurestorage.clients import StorageClients
from durable_ext.azurestorage.lease_blobs import LeaseBlobs
from durable_ext.azurestorage.names import TaskHubNames
from durable_ext.azurestorage.operation_counter import OperationCounter
from durable_ext.azurestorage.partition_manager import LeaseOptions, PartitionManager
from durable_ext.azurestorage.task_hub import TaskHubResources

FAST = LeaseOptions(worker_lease_s=15, renew_interval_s=1.0, acquire_interval_s=1.0, drain_timeout_s=20.0)


@dataclass
class Board:
    """Who dequeues which queue, and whether two ever did at once."""

    listening: dict[str, str] = field(default_factory=dict)
    overlaps: list[str] = field(default_factory=list)
    busy: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Hooks:
    worker: str
    board: Board

    async def start_partition(self, partition: str) -> None:
        holder = self.board.listening.get(partition)
        if holder is not None and holder != self.worker:
            self.board.overlaps.append(f"{partition}: {holder} and {self.worker}")
        self.board.listening[partition] = self.worker

    async def stop_partition(self, partition: str) -> None:
        if self.board.listening.get(partition) == self.worker:
            del self.board.listening[partition]

    def is_busy(self, partition: str) -> bool:
        return (self.worker, partition) in self.board.busy


@dataclass
class Hub:
    names: TaskHubNames
    blobs: BlobServiceClient
    operations: OperationCounter
    board: Board = field(default_factory=Board)
    managers: list[PartitionManager] = field(default_factory=list)

    def add(self, worker: str, options: LeaseOptions = FAST) -> PartitionManager:
        container = self.blobs.get_container_client(self.names.leases_container)
        manager = PartitionManager(
            LeaseBlobs(container, worker), self.names.control_queues, Hooks(worker, self.board), options
        )
        manager.start()
        self.managers.append(manager)
        return manager


@pytest.fixture
async def hub(connection_string: str, hub_name: str) -> AsyncIterator[Hub]:
    clients = StorageClients.from_connection_string(connection_string)
    names = TaskHubNames(hub_name, 4)
    await TaskHubResources(clients, names, []).ensure()
    hub = Hub(names, clients.blobs, clients.operations)
    try:
        yield hub
    finally:
        for manager in hub.managers:
            await manager.abandon()
        await clients.close()


async def eventually(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    loop = asyncio.get_running_loop()
    began = loop.time()
    while not condition():
        if loop.time() - began > timeout_s:
            raise AssertionError(f"{what} did not happen in {timeout_s} s")
        await asyncio.sleep(0.1)
    return loop.time() - began


def shares(hub: Hub) -> list[int]:
    return sorted(len(m.owned) for m in hub.managers)


def covered(hub: Hub) -> bool:
    owned = [p for m in hub.managers for p in m.owned]
    return len(owned) == 4 and len(set(owned)) == 4 and len(hub.board.listening) == 4


async def test_four_partitions_balance_over_one_two_and_three_workers(hub: Hub) -> None:
    hub.add("w1")
    await eventually(lambda: shares(hub) == [4] and covered(hub), 10, "one worker owning all four")
    hub.add("w2")
    await eventually(lambda: shares(hub) == [2, 2] and covered(hub), 20, "two workers with two each")
    hub.add("w3")
    await eventually(lambda: shares(hub) == [1, 1, 2] and covered(hub), 20, "three workers sharing")
    await asyncio.sleep(3)  # and it stays balanced: no churn
    assert shares(hub) == [1, 1, 2] and covered(hub)
    assert hub.board.overlaps == []


async def test_a_stolen_queue_waits_for_the_work_in_flight(hub: Hub) -> None:
    first = hub.add("w1")
    await eventually(lambda: covered(hub), 10, "w1 owning all four")
    hub.board.busy = {("w1", p) for p in hub.names.control_queues}  # w1 is in the middle of episodes
    hub.add("w2")
    await eventually(lambda: len(first.intent) == 2, 20, "w2 taking two intent leases")
    await asyncio.sleep(2)
    assert len(first.owned) == 4  # still owned (and renewed) while busy ...
    assert len(hub.board.listening) == 2  # ... but no longer dequeued: those two queues wait
    hub.board.busy.clear()
    await eventually(lambda: shares(hub) == [2, 2] and covered(hub), 20, "the hand-off")
    assert hub.board.overlaps == []


async def test_graceful_stop_hands_off_at_once(hub: Hub) -> None:
    first = hub.add("w1")
    hub.add("w2")
    await eventually(lambda: shares(hub) == [2, 2] and covered(hub), 20, "two workers with two each")
    await first.stop()
    hub.managers.remove(first)
    took = await eventually(lambda: shares(hub) == [4] and covered(hub), 10, "w2 taking over")
    assert took < 5  # released leases are taken on the next passes, not after they expire
    assert hub.board.overlaps == []


async def test_a_crashed_worker_is_taken_over_when_its_leases_expire(hub: Hub) -> None:
    first = hub.add("w1")
    hub.add("w2")
    await eventually(lambda: shares(hub) == [2, 2] and covered(hub), 20, "two workers with two each")
    await first.abandon()  # no release: as if the process was killed
    hub.managers.remove(first)
    took = await eventually(lambda: shares(hub) == [4] and covered(hub), 45, "w2 taking over")
    assert took >= 5  # it had to wait for w1's worker lease to expire
    assert hub.board.overlaps == []
    container = hub.blobs.get_container_client(hub.names.leases_container)

    async def workers() -> list[str]:
        return [b.name async for b in container.list_blobs(name_starts_with="workers/")]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while len(await workers()) > 1 and loop.time() < deadline:  # noqa: ASYNC110 (blobs in storage)
        await asyncio.sleep(0.5)
    assert await workers() == ["workers/w2"]  # the dead worker's blob is gone once it holds nothing


async def test_a_queue_whose_intent_comes_back_mid_hand_off_is_dequeued_again(hub: Hub) -> None:
    first = hub.add("w1")
    await eventually(lambda: covered(hub), 10, "w1 owning all four")
    hub.board.busy = {("w1", p) for p in hub.names.control_queues}  # w1 cannot finish a hand-off
    second = hub.add("w2")
    await eventually(lambda: len(first.intent) == 2 and len(hub.board.listening) == 2, 20, "w2 winning two")
    await second.abandon()  # w2 dies before it ever owned them; its intent leases expire
    hub.managers.remove(second)
    await eventually(
        lambda: len(first.intent) == 4 and len(hub.board.listening) == 4, 40, "w1 dequeuing all four again"
    )
    assert set(hub.board.listening.values()) == {"w1"}


async def test_lease_lines_name_the_partition_and_the_worker(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="durable_ext.partitions")
    hub.add("w1")
    await eventually(lambda: shares(hub) == [4] and covered(hub), 10, "one worker owning all four")
    owns = [r for r in caplog.records if " owns " in r.getMessage()]
    assert sorted(r.partition for r in owns) == sorted(hub.names.control_queues)  # type: ignore[attr-defined]
    assert {r.worker for r in owns} == {"w1"}  # type: ignore[attr-defined]


async def test_an_idle_worker_renews_one_lease_not_two_per_queue(hub: Hub) -> None:
    options = LeaseOptions(worker_lease_s=15, renew_interval_s=2.0, acquire_interval_s=3.0)
    hub.add("w1", options)
    await eventually(lambda: covered(hub), 10, "w1 owning all four")
    await asyncio.sleep(1)
    before = hub.operations.total
    await asyncio.sleep(12)
    spent = hub.operations.total - before
    # 6 renewals of its own lease and 4 listings; renewing 8 partition leases would be 48 more
    assert 6 <= spent <= 14, spent


async def test_a_worker_that_cannot_renew_its_lease_stops_dequeuing_before_it_expires(hub: Hub) -> None:
    first = hub.add("w1")
    await eventually(lambda: covered(hub), 10, "w1 owning all four")
    blob = hub.blobs.get_container_client(hub.names.leases_container).get_blob_client(
        first.worker_lease.blob_name
    )
    await BlobLeaseClient(blob, lease_id=first.worker_lease.lease_id).break_lease(lease_break_period=0)
    intruder = BlobLeaseClient(blob)  # another lease id on w1's blob: its renewals fail from now on
    await intruder.acquire(lease_duration=60)
    loop = asyncio.get_running_loop()
    deadline = first.worker_lease.live_until
    await eventually(lambda: not hub.board.listening, 20, "w1 stopping every queue")
    assert loop.time() < deadline  # before any other worker could have found its lease expired
    assert first.owned == {} and first.intent == {}
    await intruder.release()
    await eventually(lambda: covered(hub), 20, "w1 giving its old leases back and taking them again")
    assert set(hub.board.listening.values()) == {"w1"}
    assert hub.board.overlaps == []
