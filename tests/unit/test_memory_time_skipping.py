"""Durable time on the memory provider, without a worker: when the engine counts as idle, when time
skips to the next due message and when it is held, and how due messages wake the engine (no polling)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from durable_ext.core.client import TaskHubClient
from durable_ext.core.episode import begin_episode, finish_episode
from durable_ext.core.history import EventType, event
from durable_ext.core.messages import TaskMessage
from durable_ext.core.replay import ReplayOutcome
from durable_ext.core.service import OrchestrationWorkItem
from durable_ext.memory.service import MemoryOrchestrationService

from ..providers import started_memory_service

DAY = timedelta(days=1)


@pytest.fixture
async def service() -> AsyncIterator[MemoryOrchestrationService]:
    async with started_memory_service("time") as started:
        yield started


@pytest.fixture
def client(service: MemoryOrchestrationService) -> TaskHubClient:
    return TaskHubClient(service)


async def _lock(service: MemoryOrchestrationService, timeout_s: float = 1.0) -> OrchestrationWorkItem:
    item = await asyncio.wait_for(service.lock_next_orchestration_work_item(), timeout_s)
    assert item is not None
    return item


async def _sleeping_instance(
    service: MemoryOrchestrationService, client: TaskHubClient, due: datetime
) -> str:
    """An instance that ran its first episode and waits for a timer due at ``due``."""
    instance_id = await client.start("Orch", None)
    item = await _lock(service)
    state = begin_episode(item)
    result = finish_episode(state, ReplayOutcome([], None))
    fired = event(EventType.TimerFired, -1, TimerId=0, FireAt=due)
    result.orchestrator_messages.append(TaskMessage(fired, instance_id, state.execution_id, visible_at=due))
    await service.complete_orchestration_work_item(item, result)
    return instance_id


async def _settled() -> None:
    await asyncio.sleep(0.05)


async def test_idle_means_nothing_the_engine_could_run(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    assert service.is_idle() and service.next_due() is None
    await client.start("Orch", None, "busy")
    assert not service.is_idle()  # a visible start waits
    item = await _lock(service)
    assert not service.is_idle()  # an episode is handed out
    await service.release_orchestration_work_item(item)
    assert not service.is_idle()  # its start is back
    item = await _lock(service)
    await service.complete_orchestration_work_item(
        item, finish_episode(begin_episode(item), ReplayOutcome([], None))
    )
    assert service.is_idle()
    due = service.clock.now() + DAY
    later = await _sleeping_instance(service, client, due)
    assert service.is_idle() and service.next_due() == due
    assert service.metrics()["timersWaiting"] == 1
    state = await client.get_state(later)
    assert state is not None and state.status.name == "Running"


async def test_time_skips_to_the_next_due_message_when_idle(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    due = service.clock.now() + 3 * DAY
    instance_id = await _sleeping_instance(service, client, due)
    await _settled()
    assert service.clock.offset == timedelta(0)  # skipping is off by default
    service.time_skipping = True  # setting it looks again at once
    item = await _lock(service)
    assert (item.instance_id, [m.event_type for m in item.new_messages]) == (
        instance_id,
        [EventType.TimerFired],
    )
    assert service.clock.now() >= due
    assert 3 * DAY - timedelta(seconds=1) < service.clock.offset < 3 * DAY
    assert service.next_due() is None


async def test_held_time_does_not_skip_until_released(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    service.time_skipping = True
    service.hold_time = True
    await _sleeping_instance(service, client, service.clock.now() + DAY)
    await _settled()
    assert service.clock.offset == timedelta(0)
    service.hold_time = False
    await _lock(service)
    assert service.clock.offset > DAY - timedelta(seconds=1)


async def test_time_does_not_skip_while_work_is_runnable(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await _sleeping_instance(service, client, service.clock.now() + DAY)
    await client.start("Orch", None, "runnable")
    service.time_skipping = True
    await _settled()
    assert service.clock.offset == timedelta(0)
    item = await _lock(service)
    assert item.instance_id == "runnable"
    await _settled()
    assert service.clock.offset == timedelta(0)  # its episode is handed out
    await service.complete_orchestration_work_item(
        item, finish_episode(begin_episode(item), ReplayOutcome([], None))
    )
    fired = await _lock(service)
    assert fired.new_messages[0].event_type == EventType.TimerFired


async def test_advancing_the_clock_wakes_the_engine_at_once(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await _sleeping_instance(service, client, service.clock.now() + DAY)
    waiting = asyncio.ensure_future(service.lock_next_orchestration_work_item())
    await _settled()
    assert not waiting.done()
    service.clock.advance(DAY)
    item = await asyncio.wait_for(waiting, 1.0)
    assert item is not None and item.new_messages[0].event_type == EventType.TimerFired


async def test_the_clock_may_be_moved_from_another_thread(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await _sleeping_instance(service, client, service.clock.now() + DAY)
    waiting = asyncio.ensure_future(service.lock_next_orchestration_work_item())
    await _settled()
    mover = threading.Thread(target=service.clock.advance, args=(DAY,))
    mover.start()
    mover.join()
    item = await asyncio.wait_for(waiting, 1.0)
    assert item is not None


async def test_a_message_due_in_wall_time_arrives_without_polling(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    due = service.clock.now() + timedelta(milliseconds=100)
    await _sleeping_instance(service, client, due)
    loop = asyncio.get_running_loop()
    began = loop.time()
    item = await _lock(service, 5.0)  # without its alarm, nothing would ever wake the engine
    assert loop.time() - began < 5.0
    assert service.clock.now() >= due and service.clock.offset == timedelta(0)
    assert item.new_messages[0].event_type == EventType.TimerFired


async def test_a_scheduled_start_keeps_its_messages_waiting(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    at = service.clock.now() + 7 * DAY
    instance_id = await client.start("Orch", None, "later", scheduled_start_time=at)
    await client.raise_event(instance_id, "early", None)
    assert service.is_idle() and service.next_due() == at  # the event waits for the start
    state = await client.get_state(instance_id)
    assert state is not None and state.status.name == "Pending" and state.scheduled_start_time == at
    service.time_skipping = True
    item = await _lock(service)
    assert [m.event_type for m in item.new_messages] == [EventType.ExecutionStarted, EventType.EventRaised]
    assert service.clock.now() >= at


async def test_until_idle_returns_when_idle_and_says_what_still_runs(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    await service.until_idle(0.1)
    await client.start("Orch", None, "stuck-1")
    with pytest.raises(TimeoutError) as info:
        await service.until_idle(0.05)
    message = str(info.value)
    assert "'time'" in message and "0.05 seconds" in message and "messages waiting for 'stuck-1'" in message
    item = await _lock(service)
    with pytest.raises(TimeoutError, match="episodes running for 'stuck-1'"):
        await service.until_idle(0.05)
    finishing = asyncio.ensure_future(service.until_idle(1.0))
    await service.complete_orchestration_work_item(
        item, finish_episode(begin_episode(item), ReplayOutcome([], None))
    )
    await asyncio.wait_for(finishing, 1.0)
