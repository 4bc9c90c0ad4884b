"""What only the PostgreSQL provider has: its migrations, its notifications and its row locks."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

from durable_ext.core.client import TaskHubClient
from durable_ext.core.entities import EntityId
from durable_ext.core.history import OrchestrationStatus
from durable_ext.core.service import OrchestrationWorkItem
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner
from durable_ext.postgres.schema import LATEST, migrate
from durable_ext.postgres.service import PostgresOrchestrationService

from ..providers import postgres_service
from .test_engine import REGISTRY, _sdk_input
from .workers import running_worker


async def test_workers_starting_together_migrate_the_schema_once(postgres_dsn: str) -> None:
    schema = f"m{time.time_ns() % 10**9}"
    connections = [await asyncpg.connect(postgres_dsn) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(migrate(conn, schema) for conn in connections))
        again = await migrate(connections[0], schema)
        versions = await connections[0].fetch(f"SELECT Version FROM {schema}.Versions")
    finally:
        for conn in connections:
            await conn.close()
    assert sorted(len(a) for a in applied) == [0, 0, 0, LATEST]  # one of them did it all
    assert again == []
    assert [r["version"] for r in versions] == list(range(1, LATEST + 1))


async def test_an_idle_worker_starts_work_when_notified(postgres_dsn: str, hub_name: str) -> None:
    service = postgres_service(postgres_dsn, hub_name, max_polling_interval_s=30.0)
    executor = ThreadPoolExecutor(2)
    runners = (SdkOrchestrationRunner(REGISTRY, executor), SdkActivityRunner(REGISTRY))
    client_side = postgres_service(postgres_dsn, hub_name)
    try:
        async with running_worker(service, executor, *runners):
            client = TaskHubClient(client_side)
            # the fetch loops back off from 0.05 s, doubling: they looked at 6.4 s and 12.8 s (later on a
            # loaded machine), the next look is at 25.6 s or later, 10 s or more away
            await asyncio.sleep(15)
            took = []
            for n in range(3):
                began = time.monotonic()
                await client.start("chain", _sdk_input(["x"]), f"woken-{n}")
                state = await client.wait_for_completion(f"woken-{n}", 30, poll_interval_s=0.01)
                took.append(time.monotonic() - began)
                assert state.status == OrchestrationStatus.Completed
                await asyncio.sleep(2)
            assert service.wakeups.received >= 6  # the start, and the activity's result, each time
            # milliseconds when notified (seconds on a loaded machine); the first start, polled for,
            # would take 10 s or more
            assert max(took) < 6.0, took
    finally:
        await client_side.close()


async def test_a_dead_workers_episode_is_taken_up_when_its_lock_expires(
    postgres_dsn: str, hub_name: str
) -> None:
    first = postgres_service(postgres_dsn, hub_name, lock_timeout_s=2.0)
    await first.start()
    client = TaskHubClient(first)
    await client.start("chain", _sdk_input(["x"]), "orphan")
    item = await asyncio.wait_for(first.lock_next_orchestration_work_item(), 10)
    assert item is not None and item.instance_id == "orphan"
    await first.stop()  # dies holding the lock: no release, no renewal
    await first.close()
    second = postgres_service(postgres_dsn, hub_name, lock_timeout_s=2.0)
    executor = ThreadPoolExecutor(2)
    runners = (SdkOrchestrationRunner(REGISTRY, executor), SdkActivityRunner(REGISTRY))
    began = time.monotonic()
    async with running_worker(second, executor, *runners):
        state = await TaskHubClient(second).wait_for_completion("orphan", 30, poll_interval_s=0.05)
    assert state.status == OrchestrationStatus.Completed
    assert time.monotonic() - began >= 1.0  # it waited for the lock to expire


async def test_deleting_the_hub_leaves_other_hubs_in_the_schema(postgres_dsn: str, hub_name: str) -> None:
    mine = postgres_service(postgres_dsn, hub_name)
    other = postgres_service(postgres_dsn, hub_name + "b")
    try:
        await TaskHubClient(mine).start("chain", _sdk_input(["x"]), "kept-apart")
        await TaskHubClient(other).start("chain", _sdk_input(["x"]), "kept-apart")
        assert await mine.delete_task_hub() != []
        assert await mine.get_state("kept-apart") is None
        kept = await other.get_state("kept-apart")
        assert kept is not None and kept.status == OrchestrationStatus.Pending
        assert await mine.delete_task_hub() == []
    finally:
        await mine.close()
        await other.close()


async def _lock(service: PostgresOrchestrationService) -> OrchestrationWorkItem:
    item = await asyncio.wait_for(service.lock_next_orchestration_work_item(), 10)
    assert item is not None
    return item


async def test_an_instance_whose_episodes_keep_failing_is_failed_and_its_message_set_aside(
    postgres_dsn: str, hub_name: str
) -> None:
    service = postgres_service(postgres_dsn, hub_name, poison_message_dequeue_count=2)
    await service.start()
    try:
        await TaskHubClient(service).start("chain", _sdk_input(["x"]), "hopeless")
        reasons = []
        for _ in range(4):  # every episode fails, even the one that would fail the instance
            item = await _lock(service)
            reasons.append(item.poison_reason)
            await service.abandon_orchestration_work_item(item, RuntimeError("cannot even fail"))
        assert reasons[:2] == [None, None]
        assert "delivered 3 times and its episode failed every time" in (reasons[2] or "")
        assert "RuntimeError: cannot even fail" in (reasons[2] or "")
        with pytest.raises(TimeoutError):  # the fifth delivery fails it without handing out a work item
            await asyncio.wait_for(service.lock_next_orchestration_work_item(), 3)
        state = await service.get_state("hopeless")
        assert state is not None and state.status == OrchestrationStatus.Failed
        assert "delivered 5 times" in (state.output or "")
        [poison] = await service.poison_messages("hopeless")
        assert (poison.queue, poison.dequeue_count) == ("NewEvents", 5)
    finally:
        await service.stop()
        await service.close()


async def test_an_entity_sets_its_poison_messages_aside_and_goes_on(postgres_dsn: str, hub_name: str) -> None:
    service = postgres_service(postgres_dsn, hub_name, poison_message_dequeue_count=2)
    await service.start()
    client = TaskHubClient(service)
    entity = EntityId.of("counter", "sick")
    try:
        await client.signal_entity(entity, "add", _sdk_input(1))
        for _ in range(2):
            item = await _lock(service)
            await service.abandon_orchestration_work_item(item, RuntimeError("batch failed"))
        with pytest.raises(TimeoutError):  # the third delivery moves it aside
            await asyncio.wait_for(service.lock_next_orchestration_work_item(), 3)
        [poison] = await service.poison_messages(entity.instance_id)
        assert "the entity's batches with it failed every time" in poison.reason
        assert await service.get_state(entity.instance_id) is None  # the entity is not failed
        await client.signal_entity(entity, "add", _sdk_input(2))
        item = await _lock(service)
        assert len(item.new_messages) == 1 and item.poison_reason is None  # only the new signal
    finally:
        await service.stop()
        await service.close()
