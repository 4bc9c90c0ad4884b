"""Two workers on one task hub signal each other: a message for the other's queue is read at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from durable_ext.azurestorage.partition_manager import LeaseOptions
from durable_ext.azurestorage.peer_wakeups import SECRET_BLOB
from durable_ext.azurestorage.routing import partition_for
from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.core.client import TaskHubClient
from durable_ext.core.history import OrchestrationStatus
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner

from .idle_polls import PollWatch
from .test_engine import REGISTRY, _sdk_input
from .test_partition_manager import FAST
from .workers import running_worker

QUIET_S = 10.0
"""How far off the next read of each idle poller of the other worker's queues is when a test sends (its
back-off doubles up to 30 s here): much later than a woken read, on a loaded machine too."""
STEADY = replace(FAST, worker_lease_s=60)
"""Quick to balance, yet a loaded machine's stall of a few seconds moves no queue in the middle of a
test about how fast a message on a queue that stays put is read."""


@dataclass
class Worker:
    service: AzureStorageOrchestrationService
    client: TaskHubClient


@contextlib.asynccontextmanager
async def two_workers(settings: AzureStorageSettings) -> AsyncIterator[tuple[Worker, Worker]]:
    async with contextlib.AsyncExitStack() as stack:
        workers = []
        for name in ("a", "b"):
            service = AzureStorageOrchestrationService(replace(settings, worker_id=f"worker-{name}"))
            executor = ThreadPoolExecutor(2)
            runners = (SdkOrchestrationRunner(REGISTRY, executor), SdkActivityRunner(REGISTRY))
            await stack.enter_async_context(running_worker(service, executor, *runners))
            workers.append(Worker(service, TaskHubClient(service)))
        await _balanced(workers)
        yield workers[0], workers[1]


async def _balanced(workers: list[Worker]) -> None:
    deadline = time.monotonic() + 60
    while sorted(len(w.service.owned_partitions()) for w in workers) != [2, 2]:
        assert time.monotonic() < deadline, "the two workers never split the four queues"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.5)  # one more lease pass: each has read the other's address


def _ids_owned_by(worker: Worker, count: int, partitions: int = 4) -> list[str]:
    owned = set(worker.service.owned_partitions())
    names = worker.service.names
    ids = (f"far-{i}" for i in range(10_000))
    return [i for i in ids if names.control_queue(partition_for(i, partitions)) in owned][:count]


@pytest.fixture
def settings(connection_string: str, hub_name: str) -> AzureStorageSettings:
    return AzureStorageSettings(
        hub_name=hub_name,
        connection_string=connection_string,
        max_queue_polling_interval_s=30,
        leases=STEADY,
        use_app_lease=False,
    )


async def test_a_start_for_the_other_workers_queue_runs_at_once_after_idle(
    settings: AzureStorageSettings,
) -> None:
    async with two_workers(settings) as (a, b):
        assert a.service.wakeups.address and b.service.wakeups.address
        assert a.service.wakeups.address != b.service.wakeups.address
        ids = _ids_owned_by(b, 4)
        await PollWatch(b.service.control_queue_for(i) for i in ids).until_idle(QUIET_S)
        took = []
        for instance_id in ids:
            began = time.monotonic()
            await a.client.start("chain", _sdk_input(["x"]), instance_id)
            state = await a.client.wait_for_completion(instance_id, 30, poll_interval_s=0.02)
            took.append(time.monotonic() - began)
            assert state.status == OrchestrationStatus.Completed
        assert b.service.wakeups.received >= 4
        assert max(took) < 6.0, f"start to Completed took {took} s"  # a poll was 10 s or more away


async def test_a_timer_on_the_other_workers_queue_fires_on_time(settings: AzureStorageSettings) -> None:
    async with two_workers(settings) as (a, b):
        instance_id = _ids_owned_by(b, 1)[0]
        await PollWatch([b.service.control_queue_for(instance_id)]).until_idle(QUIET_S)
        began = time.monotonic()
        at = datetime.now(UTC) + timedelta(seconds=3)
        await a.client.start("chain", _sdk_input(["x"]), instance_id, scheduled_start_time=at)
        state = await a.client.wait_for_completion(instance_id, 40, poll_interval_s=0.02)
        assert state.status == OrchestrationStatus.Completed
        assert 2.5 < time.monotonic() - began < 8.0  # due in 3 s; a poll was 10 s or more away


async def test_forged_and_replayed_signals_are_refused(settings: AzureStorageSettings) -> None:
    async with two_workers(settings) as (a, b):
        wakeups = b.service.wakeups
        assert wakeups.address is not None
        host, port = wakeups.address.rsplit(":", 1)
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(host, int(port))
        )
        try:
            assert a.service.wakeups.signer is not None
            genuine = a.service.wakeups.signer.sign(
                b.service.names.control_queue(0), 0, time.time_ns() // 10**6
            )
            forged = bytes(32) + genuine[32:]
            received_before, refused_before = wakeups.received, wakeups.refused
            for datagram in (forged, genuine, genuine, b"hello"):
                transport.sendto(datagram)
            deadline = time.monotonic() + 5
            while wakeups.refused - refused_before < 3 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        finally:
            transport.close()
        assert wakeups.refused - refused_before == 3  # forged, the replay, and noise
        assert wakeups.received - received_before == 1


async def test_the_key_is_kept_in_the_task_hub_and_shared(settings: AzureStorageSettings) -> None:
    async with two_workers(settings) as (a, b):
        container = a.service.partitions.leases.container
        downloader = await container.get_blob_client(SECRET_BLOB).download_blob()
        assert len(bytes.fromhex((await downloader.readall()).decode())) == 32
        signer_a, signer_b = a.service.wakeups.signer, b.service.wakeups.signer
        assert signer_a is not None and signer_b is not None
        now_ms = time.time_ns() // 10**6
        assert signer_b.verify(signer_a.sign("q", 0, now_ms), now_ms).queue == "q"


async def test_without_signals_messages_still_arrive_by_polling(settings: AzureStorageSettings) -> None:
    quiet = replace(settings, wake_peers=False, max_queue_polling_interval_s=1.0)
    async with two_workers(quiet) as (a, b):
        assert b.service.wakeups.address is None
        for instance_id in _ids_owned_by(b, 2):
            await a.client.start("chain", _sdk_input(["x"]), instance_id)
            state = await a.client.wait_for_completion(instance_id, 30)
            assert state.status == OrchestrationStatus.Completed
        assert b.service.wakeups.received == 0


async def test_queues_change_hands_when_workers_are_told_not_at_the_next_listing(
    settings: AzureStorageSettings,
) -> None:
    slow_listing = replace(
        settings, leases=LeaseOptions(worker_lease_s=15, renew_interval_s=3, acquire_interval_s=120)
    )
    async with contextlib.AsyncExitStack() as b_stack, contextlib.AsyncExitStack() as a_stack:
        workers = []
        for name, stack in (("a", a_stack), ("b", b_stack)):
            service = AzureStorageOrchestrationService(replace(slow_listing, worker_id=f"worker-{name}"))
            executor = ThreadPoolExecutor(2)
            runners = (SdkOrchestrationRunner(REGISTRY, executor), SdkActivityRunner(REGISTRY))
            await stack.enter_async_context(running_worker(service, executor, *runners))
            workers.append(service)
            await _until(lambda: len(workers[0].owned_partitions()) == 4, 20, "a taking the four queues")
        a, b = workers
        # without the signals a would notice that b took two queues only at its next listing, 2 min on
        await _until(lambda: sorted(len(s.owned_partitions()) for s in workers) == [2, 2], 15, "the split")
        assert a.wakeups.received >= 1
        await a_stack.aclose()  # a stops: b is told, and takes a's two queues now
        await _until(lambda: len(b.owned_partitions()) == 4, 10, "b taking over")


async def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout_s} s"
        await asyncio.sleep(0.1)
