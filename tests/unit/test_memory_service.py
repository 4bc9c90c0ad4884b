"""The memory provider's work items, without a worker: what an episode gets, what waits, what is dropped,
what keeps failing, and what the client sees."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from durable_ext.core.client import TaskHubClient
from durable_ext.core.episode import begin_episode, finish_episode
from durable_ext.core.history import EventType, OrchestrationStatus, event
from durable_ext.core.messages import TaskMessage
from durable_ext.core.replay import Command, Completion, ReplayOutcome
from durable_ext.core.service import ActivityWorkItem, OrchestrationWorkItem
from durable_ext.errors import ConcurrencyConflictError, InstanceAlreadyExistsError
from durable_ext.memory.service import MemoryOrchestrationService
from durable_ext.memory.settings import MemorySettings

from ..providers import started_memory_service

S = OrchestrationStatus
THRESHOLD = 2


@pytest.fixture
async def service() -> AsyncIterator[MemoryOrchestrationService]:
    async with started_memory_service("unit", poison_message_dequeue_count=THRESHOLD) as started:
        yield started


@pytest.fixture
def client(service: MemoryOrchestrationService) -> TaskHubClient:
    return TaskHubClient(service)


async def _lock(service: MemoryOrchestrationService) -> OrchestrationWorkItem:
    item = await asyncio.wait_for(service.lock_next_orchestration_work_item(), 1.0)
    assert item is not None
    return item


async def _no_work_item(service: MemoryOrchestrationService) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(service.lock_next_orchestration_work_item(), 0.05)


async def _run(
    service: MemoryOrchestrationService, item: OrchestrationWorkItem, outcome: ReplayOutcome | None = None
) -> None:
    """Commit an episode that applied the work item's messages and did what ``outcome`` says."""
    state = begin_episode(item)
    result = finish_episode(state, outcome or ReplayOutcome([], None))
    await service.complete_orchestration_work_item(item, result)


def _kinds(item: OrchestrationWorkItem) -> list[str]:
    return [m.event_type.name for m in item.new_messages]


def _raised(instance_id: str, name: str, execution_id: str | None = None) -> TaskMessage:
    return TaskMessage(event(EventType.EventRaised, -1, Name=name, Input=None), instance_id, execution_id)


DONE = ReplayOutcome([], Completion(S.Completed, '"done"'))


# ---- starting ---------------------------------------------------------------------------------
async def test_a_start_writes_a_pending_state_at_once(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    instance_id = await client.start("Orch", '"in"', "s-1")
    state = await client.get_state(instance_id)
    assert state is not None
    assert (state.name, state.status, state.input, state.generation) == ("Orch", S.Pending, '"in"', 0)
    assert await client.get_history(instance_id) == []
    started = service.hub.records[instance_id].inbox[0].message.event
    assert state.created_time == started.timestamp
    assert state.execution_id == started.props["OrchestrationInstance"]["ExecutionId"]


async def test_an_unfinished_instance_is_refused_and_a_finished_one_starts_a_new_generation(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await client.start("Orch", None, "again")
    with pytest.raises(InstanceAlreadyExistsError, match="Pending"):
        await client.start("Orch", None, "again")
    await _run(service, await _lock(service), DONE)
    first = await client.get_state("again")
    assert first is not None and first.status == S.Completed and first.output == '"done"'

    await client.start("Orch", '"two"', "again")
    pending = await client.get_state("again")
    assert pending is not None
    assert (pending.status, pending.generation, pending.output) == (S.Pending, 1, None)
    assert pending.execution_id != first.execution_id
    assert len(await client.get_history("again")) == 4  # the finished execution's, until the new one runs
    item = await _lock(service)
    assert item.runtime_state.past_events == []  # a new execution over the finished one
    await _run(service, item)
    history = await client.get_history("again")
    assert [e.event_type for e in history].count(EventType.ExecutionStarted) == 1
    assert history[1].props["Generation"] == 1


# ---- one episode at a time, in arrival order --------------------------------------------------
async def test_messages_arriving_during_an_episode_wait_for_the_next(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await client.start("Orch", None, "busy")
    await client.raise_event("busy", "first", None)
    item = await _lock(service)
    assert _kinds(item) == ["ExecutionStarted", "EventRaised"]
    await client.raise_event("busy", "second", None)
    await client.raise_event("busy", "third", None)
    await _no_work_item(service)  # the instance is locked
    await _run(service, item)
    after = await _lock(service)
    assert [m.event.name for m in after.new_messages] == ["second", "third"]
    assert [e.event_type for e in after.runtime_state.past_events][:2] == [
        EventType.OrchestratorStarted,
        EventType.ExecutionStarted,
    ]


async def test_instances_run_side_by_side(service: MemoryOrchestrationService, client: TaskHubClient) -> None:
    await client.start("Orch", None, "a")
    await client.start("Orch", None, "A")  # ids are case-sensitive
    first, second = await _lock(service), await _lock(service)
    assert {first.instance_id, second.instance_id} == {"a", "A"}
    assert service.metrics()["episodesRunning"] == 2


async def test_what_azure_drops_is_dropped(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await client.start("Orch", None, "done")
    item = await _lock(service)
    execution_id = item.runtime_state.execution_id or item.new_messages[0].execution_id
    await _run(service, item)
    await service.send_message(_raised("done", "old", execution_id="an-older-one"))
    await service.send_message(_raised("done", "current", execution_id=execution_id))
    duplicate = TaskMessage(item.new_messages[0].event.copy(), "done", execution_id)
    await service.send_message(duplicate)
    later = await _lock(service)
    assert [m.event.name for m in later.new_messages] == ["current"]  # older execution, duplicate start
    await _run(service, later, DONE)

    await client.raise_event("done", "too late", None)
    await _no_work_item(service)  # the instance is finished
    await service.send_message(_raised("nobody", "hello"))
    await _no_work_item(service)  # no such instance
    assert service.metrics()["messagesWaiting"] == 0
    assert await client.get_state("nobody") is None


async def test_an_entity_starts_with_its_first_message(service: MemoryOrchestrationService) -> None:
    await service.send_message(_raised("@counter@k", "op"))
    item = await _lock(service)
    assert item.runtime_state.past_events == [] and _kinds(item) == ["EventRaised"]


async def test_release_and_stop_put_the_messages_back(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await client.start("Orch", None, "held")
    await service.release_orchestration_work_item(await _lock(service))
    item = await _lock(service)
    assert _kinds(item) == ["ExecutionStarted"]
    await service.stop()
    assert service.owned_partitions() == []
    assert await service.lock_next_orchestration_work_item() is None  # stopped: no more work items
    await service.start()
    assert _kinds(await _lock(service)) == ["ExecutionStarted"]


async def test_a_waiting_lock_returns_none_once_receiving_stops(service: MemoryOrchestrationService) -> None:
    waiting = asyncio.ensure_future(service.lock_next_orchestration_work_item())
    activity = asyncio.ensure_future(service.lock_next_activity_work_item())
    await asyncio.sleep(0.01)
    await service.stop_receiving()
    assert await asyncio.wait_for(waiting, 1.0) is None
    assert await asyncio.wait_for(activity, 1.0) is None


async def test_a_purge_under_a_running_episode_discards_its_commit(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await client.start("Orch", None, "purged")
    await _run(service, await _lock(service))
    await client.raise_event("purged", "late", None)
    item = await _lock(service)
    assert await client.purge("purged") == 1
    with pytest.raises(ConcurrencyConflictError, match="purged"):
        await _run(service, item)
    await service.abandon_orchestration_work_item(item)
    await _no_work_item(service)  # its message is judged again: no such instance any more
    assert await client.get_state("purged") is None and await client.get_history("purged") == []


# ---- poison -----------------------------------------------------------------------------------
async def test_a_message_that_keeps_failing_fails_its_instance(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await client.start("Orch", None, "sick")
    for delivery in range(1, THRESHOLD + 1):
        item = await _lock(service)
        assert item.poison_reason is None
        await service.abandon_orchestration_work_item(item, RuntimeError(f"failure {delivery}"))
    item = await _lock(service)
    reason = item.poison_reason or ""
    assert "delivered 3 times and its episode failed every time" in reason
    assert "(last error: RuntimeError: failure 2)" in reason
    await _run(service, item, ReplayOutcome([], Completion(S.Failed, reason)))
    [poison] = await client.poison_messages("sick")
    assert (poison.queue, poison.dequeue_count, poison.reason) == ("control", 3, reason)
    assert json.loads(poison.body)["eventType"] == "ExecutionStarted"
    assert await client.poison_messages("someone else") == []


async def test_past_twice_the_threshold_the_instance_is_failed_directly(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await client.start("Orch", None, "hopeless")
    for _ in range(2 * THRESHOLD):
        await service.abandon_orchestration_work_item(await _lock(service), RuntimeError("cannot even fail"))
    await _no_work_item(service)
    state = await client.get_state("hopeless")
    assert state is not None and state.status == S.Failed
    assert "delivered 5 times" in (state.output or "")
    assert [p.dequeue_count for p in await client.poison_messages("hopeless")] == [5]


async def test_an_entity_moves_its_poison_messages_aside(service: MemoryOrchestrationService) -> None:
    await service.send_message(_raised("@counter@sick", "op"))
    for _ in range(THRESHOLD):
        await service.abandon_orchestration_work_item(await _lock(service), RuntimeError("batch failed"))
    await _no_work_item(service)  # the poison message went aside; the entity is not failed
    [poison] = await service.poison_messages("@counter@sick")
    assert "the entity's batches with it failed every time" in poison.reason
    assert await service.get_state("@counter@sick") is None
    await service.send_message(_raised("@counter@sick", "next"))
    assert [m.event.name for m in (await _lock(service)).new_messages] == ["next"]


# ---- activities -------------------------------------------------------------------------------
async def _schedule_activity(service: MemoryOrchestrationService, client: TaskHubClient) -> None:
    await client.start("Orch", None, "worker")
    scheduled = event(EventType.TaskScheduled, 0, Name="act", Input="[]")
    await _run(service, await _lock(service), ReplayOutcome([Command(scheduled)], None))


async def _lock_activity(service: MemoryOrchestrationService) -> ActivityWorkItem:
    item = await asyncio.wait_for(service.lock_next_activity_work_item(), 1.0)
    assert item is not None
    return item


async def test_an_activity_result_goes_to_its_orchestration(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await _schedule_activity(service, client)
    activity = await _lock_activity(service)
    assert (activity.message.event.name, activity.message.instance_id) == ("act", "worker")
    assert not service.is_idle()
    done = event(EventType.TaskCompleted, -1, TaskScheduledId=0, Result='"r"')
    await service.complete_activity_work_item(
        activity, TaskMessage(done, "worker", activity.message.execution_id)
    )
    item = await _lock(service)
    assert _kinds(item) == ["TaskCompleted"]


async def test_an_activity_that_never_completes_is_poison_after_the_threshold(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await _schedule_activity(service, client)
    for _ in range(THRESHOLD):
        item = await _lock_activity(service)
        assert item.poison_reason is None
        await service.abandon_activity_work_item(item)
    item = await _lock_activity(service)
    assert "delivered 3 times and the activity never completed" in (item.poison_reason or "")
    failed = event(EventType.TaskFailed, -1, TaskScheduledId=0, Reason=item.poison_reason)
    await service.complete_activity_work_item(item, TaskMessage(failed, "worker", item.message.execution_id))
    assert [p.queue for p in await service.poison_messages("worker")] == ["workitems"]


# ---- the hub ----------------------------------------------------------------------------------
async def test_health_metrics_partitions_and_deleting_the_hub(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    assert service.health.reachable is True and service.health.endpoint == "memory"
    assert service.durable is False and service.hub_name == "unit"
    assert service.owned_partitions() == ["memory"]
    await client.start("Orch", None, "m-1")
    metrics = service.metrics()
    assert (metrics["instances"], metrics["messagesWaiting"], metrics["timersWaiting"]) == (1, 1, 0)
    assert metrics["clockOffsetSeconds"] == 0
    assert await service.delete_task_hub() == ["memory task hub unit"]
    assert await client.get_state("m-1") is None
    assert service.metrics()["messagesWaiting"] == 0
    unused = MemoryOrchestrationService(MemorySettings(hub_name="never"))
    assert await unused.delete_task_hub() == []
    assert unused.owned_partitions() == []


async def test_terminating_a_pending_instance(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await client.start("Orch", None, "t-1")
    state = await client.get_state("t-1")
    assert state is not None
    assert not await service.terminate_pending("t-1", "another-execution", "no")
    assert await service.terminate_pending("t-1", state.execution_id, "stop it")
    terminated = await client.get_state("t-1")
    assert terminated is not None and (terminated.status, terminated.output) == (S.Terminated, "stop it")
    assert not await service.terminate_pending("t-1", None, "again")  # no longer pending
    assert not await service.terminate_pending("nobody", None, "x")
