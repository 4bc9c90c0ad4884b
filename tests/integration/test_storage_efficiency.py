"""What an orchestration costs in storage operations, and the shortcuts that keep the cost down:
held messages, the history cache (never trusted past the sentinel ETag), skipped status writes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.data.tables import UpdateMode

from durable_ext.azurestorage.history_cache import HistoryCache
from durable_ext.azurestorage.history_store import LoadedHistory
from durable_ext.azurestorage.names import escape_key
from durable_ext.azurestorage.operation_counter import OperationCounter
from durable_ext.azurestorage.queues import TaskHubQueue
from durable_ext.core.history import EventType, OrchestrationStatus, event
from durable_ext.core.messages import TaskMessage
from durable_ext.core.service import ActivityWorkItem, EpisodeResult, OrchestrationWorkItem
from durable_ext.errors import InstanceAlreadyExistsError

from .idle_polls import PollWatch
from .test_engine import (
    Engine,
    _history_rows,
    _sdk_input,
    _wait_for_status,
    engine,  # noqa: F401 (the fixture)
    running_engine,
)


class Commits:
    """The worker's commits as they return. A client sees the status an episode wrote before the
    commit returns and spawns the deletes of the episode's messages, so a count taken then misses them.
    """

    def __init__(self, service: Any) -> None:
        self.returned: dict[str, list[OrchestrationStatus]] = {}
        self.activities_in_flight = 0
        complete = service.complete_orchestration_work_item
        complete_activity = service.complete_activity_work_item

        async def complete_watched(item: OrchestrationWorkItem, result: EpisodeResult) -> None:
            await complete(item, result)
            self.returned.setdefault(item.instance_id, []).append(result.runtime_state.status)

        async def complete_activity_watched(item: ActivityWorkItem, response: TaskMessage) -> None:
            self.activities_in_flight += 1
            try:
                await complete_activity(item, response)
            finally:
                self.activities_in_flight -= 1

        service.complete_orchestration_work_item = complete_watched
        service.complete_activity_work_item = complete_activity_watched

    async def reached(self, instance_id: str, status: OrchestrationStatus, within_s: float = 20.0) -> None:
        """Wait until a commit that left ``instance_id`` in ``status`` has returned, and no activity's
        completion is still under way."""
        deadline = time.monotonic() + within_s
        while status not in self.returned.get(instance_id, []) or self.activities_in_flight:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{instance_id}: commits returned {self.returned.get(instance_id)}")
            await asyncio.sleep(0.01)


async def _settled(running: Engine) -> dict[str, int]:
    """The operation counts once the background deletes are done."""
    await running.service.background.drain()
    return running.service.clients.operations.snapshot()


async def _wait_until_completed(running: Engine, instance_id: str) -> int:
    """Wait by reading the status row every 20 ms; return how many reads that took."""
    for reads in range(1, 1000):
        state = await running.service.get_state(instance_id)
        if state is not None and state.status == OrchestrationStatus.Completed:
            return reads
        await asyncio.sleep(0.02)
    raise TimeoutError(instance_id)


async def _taken_from(cache: HistoryCache, instance_id: str, within_s: float = 10.0) -> LoadedHistory | None:
    """The instance's cached history once its worker has put it there (the status row it wrote is
    visible to a client a moment before its commit returns and the history is cached)."""
    deadline = time.monotonic() + within_s
    taken = cache.take(instance_id)
    while taken is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        taken = cache.take(instance_id)
    return taken


async def test_a_chain_of_three_costs_fewer_operations_than_the_reference(engine: Engine) -> None:  # noqa: F811
    commits = Commits(engine.service)
    warm_up = await engine.client.start("chain", _sdk_input(["w"]), "warm")
    await engine.client.wait_for_completion(warm_up, 20)
    await commits.reached(warm_up, OrchestrationStatus.Completed)
    before = await _settled(engine)
    index = engine.service.index
    beside = next(
        f"chain-{i}" for i in range(1000) if index.partition_of(f"chain-{i}") == index.partition_of("warm")
    )
    instance_id = await engine.client.start("chain", _sdk_input(["a", "b", "c"]), beside)  # counts read
    status_reads = await _wait_until_completed(engine, instance_id)
    await commits.reached(instance_id, OrchestrationStatus.Completed)
    spent = OperationCounter.difference(await _settled(engine), before)
    assert spent.pop("table.query") == status_reads  # this test's own reads, nothing else
    spent.pop("queue.get", None)  # idle polls, by time rather than by work
    # 1 start + 3 activity messages + 3 results; each deleted once; 4 history commits; the Pending row
    # and two status writes (Running, Completed), each followed by the instance index (3 transactions);
    # no history read, no status read, no index read
    assert spent == {"queue.put": 7, "queue.delete": 7, "table.batch": 4 + 3, "table.write": 3}
    assert sum(spent.values()) <= 6 * (3 + 1)  # the reference spends 9 * (3 + 1) = 36


async def test_a_stale_cached_history_is_never_committed(engine: Engine) -> None:  # noqa: F811
    instance_id = await engine.client.start("waiter", _sdk_input(None))
    await _wait_for_status(engine.client, instance_id, OrchestrationStatus.Running)
    await engine.service.background.drain()
    table = engine.service.history.table
    sentinel = await table.get_entity(escape_key(instance_id), "sentinel")
    await table.update_entity(  # as if another worker had committed meanwhile
        {"PartitionKey": escape_key(instance_id), "RowKey": "sentinel", "IsCheckpointComplete": True},
        mode=UpdateMode.MERGE,
        etag=sentinel.metadata["etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    misses = engine.service.sessions.cache.misses
    await engine.client.raise_event(instance_id, "Go", json.dumps(7))
    state = await engine.client.wait_for_completion(instance_id, 20)
    assert json.loads(state.output or "") == {"got": 7}
    assert engine.service.sessions.cache.misses > misses  # the history was read again after the conflict
    rows = [r for r in await _history_rows(engine.service, instance_id) if r["RowKey"] != "sentinel"]
    assert [r["RowKey"] for r in rows] == [f"{i:016X}" for i in range(len(rows))]
    assert [r["EventType"] for r in rows].count("EventRaised") == 1


async def test_a_stale_cached_history_never_throws_a_message_away(
    connection_string: str, hub_name: str
) -> None:
    # A worker that gets a partition back may still hold what it cached before another worker moved
    # the instance on. Judged on that guess, a valid message would look stray and be dropped.
    async with running_engine(connection_string, hub_name, stale_message_max_dequeues=1) as running:
        instance_id = await running.client.start("waiter", _sdk_input(None))
        await _wait_for_status(running.client, instance_id, OrchestrationStatus.Running)
        await running.service.background.drain()
        cache = running.service.sessions.cache
        assert await _taken_from(cache, instance_id) is not None
        cache.put(instance_id, LoadedHistory([], "stale", None))  # as last seen before the instance started
        await running.client.raise_event(instance_id, "Go", json.dumps(7))
        state = await running.client.wait_for_completion(instance_id, 30)
        assert json.loads(state.output or "") == {"got": 7}


async def test_a_partition_taken_again_forgets_what_was_cached_for_it(engine: Engine) -> None:  # noqa: F811
    instance_id = await engine.client.start("waiter", _sdk_input(None))
    await _wait_for_status(engine.client, instance_id, OrchestrationStatus.Running)
    partition = engine.service.control_queue_for(instance_id).name
    await engine.service.stop_partition(partition)
    engine.service.sessions.cache.put(instance_id, LoadedHistory([], "old", None))
    await engine.service.start_partition(partition)
    assert engine.service.sessions.cache.take(instance_id) is None
    await engine.client.raise_event(instance_id, "Go", json.dumps(8))
    state = await engine.client.wait_for_completion(instance_id, 30)
    assert json.loads(state.output or "") == {"got": 8}


async def test_a_start_that_is_refused_leaves_no_message_behind(engine: Engine) -> None:  # noqa: F811
    commits = Commits(engine.service)
    instance_id = await engine.client.start("waiter", _sdk_input(None), "only-once")
    await _wait_for_status(engine.client, instance_id, OrchestrationStatus.Running)
    with pytest.raises(InstanceAlreadyExistsError):
        await engine.client.start("waiter", _sdk_input(None), "only-once")
    await commits.reached(instance_id, OrchestrationStatus.Running)  # the start's delete is spawned
    await engine.service.background.drain()
    queue = engine.service.control_queue_for(instance_id)
    properties = await queue.client.get_queue_properties()
    assert properties.approximate_message_count == 0


async def test_a_restarted_instance_counts_its_generation(engine: Engine) -> None:  # noqa: F811
    instance_id = await engine.client.start("chain", _sdk_input(["x"]), "again")
    await engine.client.wait_for_completion(instance_id, 20)
    await engine.client.start("chain", _sdk_input(["y"]), "again")
    state = await engine.client.wait_for_completion(instance_id, 20)
    assert state.output == '["Hello y"]'
    assert state.generation == 1


async def test_a_held_message_reappears_when_its_holder_is_gone(engine: Engine) -> None:  # noqa: F811
    queue = TaskHubQueue(engine.service.clients.queues.get_queue_client(f"held-{time.time_ns()}"), 1, 1.0)
    await queue.create()  # a queue no worker reads
    message = TaskMessage(event(EventType.GenericEvent, -1, Data="held"), "nobody", None)
    held = await queue.send_held(message)
    assert held.message is message and held.dequeue_count == 0
    assert await queue.receive_batch(32) == []  # invisible while held
    await asyncio.sleep(1.5)  # the holder never deletes it: its visibility timeout ends
    again = await queue.receive_batch(32)
    assert [m.id for m in again] == [held.id]
    assert again[0].dequeue_count == 1


@pytest.fixture
async def slow_polling(connection_string: str, hub_name: str) -> AsyncIterator[Engine]:
    async with running_engine(connection_string, hub_name, max_queue_polling_interval_s=30.0) as running:
        yield running


async def test_a_timer_fires_on_time_even_when_polling_has_backed_off(slow_polling: Engine) -> None:
    instance_id = f"sleeper-{time.time_ns()}"
    # idle, the instance's queue's poller backs off towards 30 s: send when its next read is 10 s away
    await PollWatch([slow_polling.service.control_queue_for(instance_id)]).until_idle(10.0)
    began = time.monotonic()
    await slow_polling.client.start("sleeper", _sdk_input(2), instance_id)
    state = await slow_polling.client.wait_for_completion(instance_id, 30)
    assert state.output == '"woke"'
    assert time.monotonic() - began < 8.0  # due after 2 s (whole seconds in the queue), not after a poll
