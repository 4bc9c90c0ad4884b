"""The engine on the memory provider: durable time under the test's control, and the memory provider's
own ways (poison messages kept in process, a hub that outlives its worker but not the process).

What must behave the same on every provider is tested in test_engine.py and test_entity_engine.py,
which run on this provider too.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from durable_ext.core.client import TaskHubClient
from durable_ext.core.entities import EntityId
from durable_ext.core.history import EventType, OrchestrationStatus
from durable_ext.core.replay import ReplayOutcome
from durable_ext.core.state import OrchestrationRuntimeState
from durable_ext.core.worker import ActivityRunner, OrchestrationRunner, TaskHubWorker
from durable_ext.extension.entity_runner import SdkEntityRunner
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner
from durable_ext.memory.service import MemoryOrchestrationService

from ..providers import durable_time, memory_service
from .test_engine import registry_of
from .test_faults import BrokenEngine, CrashingActivities

S = OrchestrationStatus
TIMEOUT_S = 10.0
CHECKS = 120
CHECK_EVERY = timedelta(hours=6)

app = df.DFApp()
PROBES: list[str] = []
FAILURES_LEFT: dict[str, int] = {}


@app.orchestration_trigger(context_name="context")
def monitor(context: df.DurableOrchestrationContext) -> Any:
    """Check, sleep six hours, and again, 120 times: a month. Each round continues as new with the
    count and the first round's time, as a long monitor should (its history stays one round long)."""
    progress = context.get_input() or {"check": 0, "started": context.current_utc_datetime.isoformat()}
    yield context.call_activity("probe", f"{context.instance_id}:{progress['check']}")
    yield context.create_timer(context.current_utc_datetime + CHECK_EVERY)
    if progress["check"] + 1 < CHECKS:
        context.continue_as_new({**progress, "check": progress["check"] + 1})
        return None
    return {**progress, "finished": context.current_utc_datetime.isoformat()}


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext) -> Any:
    approved = context.wait_for_external_event("Approval")
    timeout = context.create_timer(context.current_utc_datetime + timedelta(days=3))
    winner = yield context.task_any([approved, timeout])
    if winner == approved:
        timeout.cancel()
        return {"approved": approved.result}
    return "timed out"


@app.orchestration_trigger(context_name="context")
def patient(context: df.DurableOrchestrationContext) -> Any:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=3_600_000, max_number_of_attempts=5)
    return (yield context.call_activity_with_retry("flaky", options, context.get_input()))


@app.orchestration_trigger(context_name="context")
def napper(context: df.DurableOrchestrationContext) -> Any:
    yield context.create_timer(context.current_utc_datetime + timedelta(days=context.get_input()))
    return context.current_utc_datetime.isoformat()


@app.orchestration_trigger(context_name="context")
def clock_reader(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_activity("probe", "clock")
    return context.current_utc_datetime.isoformat()


@app.orchestration_trigger(context_name="context")
def greeter(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_activity("hello", context.get_input()))


@app.activity_trigger(input_name="what")
def probe(what: str) -> str:
    PROBES.append(what)
    return what


@app.activity_trigger(input_name="name")
def hello(name: str) -> str:
    return f"Hello {name}"


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    left = FAILURES_LEFT.setdefault(key, 3)
    if left > 0:
        FAILURES_LEFT[key] = left - 1
        raise RuntimeError(f"not yet ({left} failures left)")
    return "finally"


@app.entity_trigger(context_name="context")
def tally(context: df.DurableEntityContext) -> None:
    total: int = context.get_state(lambda: 0)
    if context.operation_name == "add":
        context.set_state(total + context.get_input())


REGISTRY = registry_of(app)


class CrashingEntities(SdkEntityRunner):
    """Batches with a ``crash`` operation fail every time."""

    async def run(self, state: OrchestrationRuntimeState) -> ReplayOutcome:
        if any("crash" in (e.input or "") for e in state.new_events if e.event_type == EventType.EventRaised):
            raise RuntimeError("the entity's batch cannot run")
        return await super().run(state)


@dataclass
class MemoryEngine:
    service: MemoryOrchestrationService
    client: TaskHubClient
    worker: TaskHubWorker

    async def completed(self, instance_id: str) -> Any:
        state = await self.client.wait_for_completion(instance_id, TIMEOUT_S, 0.01)
        assert state.status == S.Completed, state.output
        return json.loads(state.output or "null")


@asynccontextmanager
async def memory_engine(
    service: MemoryOrchestrationService,
    orchestrations: OrchestrationRunner | None = None,
    activities: ActivityRunner | None = None,
    entities: OrchestrationRunner | None = None,
) -> AsyncIterator[MemoryEngine]:
    executor = ThreadPoolExecutor(4)
    worker = TaskHubWorker(
        service,
        orchestrations or SdkOrchestrationRunner(REGISTRY, executor),
        activities or SdkActivityRunner(REGISTRY),
        max_concurrent_orchestrations=8,
        max_concurrent_activities=8,
        entities=entities or SdkEntityRunner(REGISTRY, executor, max_batch_size=10),
    )
    async with durable_time(service):
        await worker.start()
        try:
            yield MemoryEngine(service, TaskHubClient(service), worker)
        finally:
            await worker.stop()
            await service.close()
            executor.shutdown(wait=True)


@pytest.fixture
async def engine(hub_name: str) -> AsyncIterator[MemoryEngine]:
    async with memory_engine(memory_service(hub_name)) as running:
        yield running


def _input(value: Any) -> str:
    return json.dumps(json.dumps(value))


# ---- time skipping ----------------------------------------------------------------------------
AT_ONCE_S = 15.0
"""Wall time that counts as "at once" next to timers of days: generous for a loaded machine (the
runs take well under a second on a quiet one), and still thousands of times short of the timers."""


async def test_a_30_day_monitor_completes_at_once_under_time_skipping(engine: MemoryEngine) -> None:
    engine.service.time_skipping = True
    began = time.perf_counter()
    instance_id = await engine.client.start("monitor", _input(None))
    result = await engine.completed(instance_id)
    elapsed_s = time.perf_counter() - began
    assert elapsed_s < AT_ONCE_S, f"the 30-day monitor took {elapsed_s:.2f} s of wall time"
    finished, started = datetime.fromisoformat(result["finished"]), datetime.fromisoformat(result["started"])
    assert finished - started >= CHECKS * CHECK_EVERY == timedelta(days=30)
    assert [p for p in PROBES if p.startswith(instance_id)] == [f"{instance_id}:{i}" for i in range(CHECKS)]
    state = await engine.client.get_state(instance_id)
    assert state is not None and state.generation == CHECKS - 1
    history = await engine.client.get_history(instance_id)
    assert [e.event_type for e in history].count(EventType.TimerFired) == 1  # the last round's
    assert engine.service.clock.offset >= timedelta(days=30) - timedelta(minutes=1)
    assert engine.service.metrics()["timeSkips"] >= CHECKS


async def test_an_approval_times_out_at_once_under_time_skipping(engine: MemoryEngine) -> None:
    engine.service.time_skipping = True
    began = time.perf_counter()
    instance_id = await engine.client.start("approval", _input(None))
    assert await engine.completed(instance_id) == "timed out"
    assert time.perf_counter() - began < AT_ONCE_S
    state = await engine.client.get_state(instance_id)
    assert state is not None and state.created_time is not None and state.completed_time is not None
    assert state.completed_time - state.created_time >= timedelta(days=3)


async def test_with_time_held_an_event_raised_first_wins(engine: MemoryEngine) -> None:
    engine.service.time_skipping = True
    engine.service.hold_time = True
    instance_id = await engine.client.start("approval", _input(None))
    await engine.service.until_idle(TIMEOUT_S)
    assert engine.service.next_due() is not None  # the 3-day timer waits, time is held
    await engine.client.raise_event(instance_id, "Approval", json.dumps("yes"))
    assert await engine.completed(instance_id) == {"approved": "yes"}
    assert engine.service.clock.offset < timedelta(minutes=1)

    engine.service.hold_time = False  # the timer left behind fires now, and changes nothing
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while engine.service.next_due() is not None:
        assert loop.time() < deadline
        await asyncio.sleep(0.01)
    await engine.service.until_idle(TIMEOUT_S)
    assert engine.service.clock.offset >= timedelta(days=3) - timedelta(minutes=1)
    state = await engine.client.get_state(instance_id)
    assert state is not None and (state.status, state.output) == (S.Completed, '{"approved":"yes"}')


async def test_retry_back_off_passes_at_once_under_time_skipping(engine: MemoryEngine) -> None:
    engine.service.time_skipping = True
    began = time.perf_counter()
    instance_id = await engine.client.start("patient", _input(uuid.uuid4().hex))
    assert await engine.completed(instance_id) == "finally"
    assert time.perf_counter() - began < AT_ONCE_S
    history = await engine.client.get_history(instance_id)
    fire_times = [e.get("FireAt") for e in history if e.event_type == EventType.TimerCreated]
    assert len(fire_times) == 3
    failures = [e.timestamp for e in history if e.event_type == EventType.TaskFailed]
    assert all(fire - failed >= timedelta(hours=1) for fire, failed in zip(fire_times, failures, strict=True))


async def test_scheduled_starts_and_signals_wait_for_skipped_time(engine: MemoryEngine) -> None:
    engine.service.time_skipping = True
    week_later = engine.service.clock.now() + timedelta(days=7)
    instance_id = await engine.client.start("greeter", _input("later"), scheduled_start_time=week_later)
    assert await engine.completed(instance_id) == "Hello later"
    started = (await engine.client.get_history(instance_id))[0]
    assert started.timestamp >= week_later

    entity = EntityId.of("tally", "t")
    tomorrow = engine.service.clock.now() + timedelta(days=1)
    await engine.client.signal_entity(entity, "add", _input(5), scheduled_time=tomorrow)
    await engine.client.signal_entity(entity, "add", _input(1))
    await engine.service.until_idle(TIMEOUT_S)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while (status := await engine.client.read_entity(entity)) is None or status.state != "6":
        assert loop.time() < deadline, status
        await asyncio.sleep(0.01)
    assert engine.service.clock.now() >= tomorrow


# ---- durable time without skipping ------------------------------------------------------------
async def test_advance_fires_the_timers_that_became_due(engine: MemoryEngine) -> None:
    instance_id = await engine.client.start("napper", _input(1))
    await engine.service.until_idle(TIMEOUT_S)
    state = await engine.client.get_state(instance_id)
    assert state is not None and state.status == S.Running  # no skipping: the day has not passed
    due = engine.service.next_due()
    assert due is not None and timedelta(hours=23) < due - engine.service.clock.now() <= timedelta(days=1)
    engine.service.clock.advance(timedelta(days=1))
    woke = datetime.fromisoformat(await engine.completed(instance_id))
    assert woke >= due
    assert datetime.now(UTC) + timedelta(hours=23) < woke


async def test_orchestration_time_follows_the_virtual_clock_and_activities_keep_the_wall(
    engine: MemoryEngine,
) -> None:
    engine.service.clock.advance(timedelta(days=10))
    instance_id = await engine.client.start("clock_reader", _input(None))
    orchestration_time = datetime.fromisoformat(await engine.completed(instance_id))
    wall = datetime.now(UTC)
    assert timedelta(days=10) - timedelta(minutes=1) < orchestration_time - wall < timedelta(days=10)
    scheduled = next(
        e for e in await engine.client.get_history(instance_id) if e.event_type == EventType.TaskScheduled
    )
    assert scheduled.timestamp - wall > timedelta(days=9)


# ---- the hub outlives its worker, not its process ----------------------------------------------
async def test_a_worker_started_again_goes_on_where_the_last_stopped(hub_name: str) -> None:
    service = memory_service(hub_name)
    executor = ThreadPoolExecutor(2)

    def worker() -> TaskHubWorker:
        runner = SdkOrchestrationRunner(REGISTRY, executor)
        options = {"max_concurrent_orchestrations": 2, "max_concurrent_activities": 2}
        return TaskHubWorker(service, runner, SdkActivityRunner(REGISTRY), **options)

    client = TaskHubClient(service)
    first, second = worker(), worker()
    async with durable_time(service):
        await first.start()
        instance_id = await client.start("approval", _input(None))
        await service.until_idle(TIMEOUT_S)
        await first.stop()
        assert service.owned_partitions() == []
        await client.raise_event(instance_id, "Approval", json.dumps("later"))
        await asyncio.sleep(0.1)
        state = await client.get_state(instance_id)
        assert state is not None and state.status == S.Running  # no worker: nothing ran
        await second.start()
        try:
            assert service.owned_partitions() == ["memory"]
            done = await client.wait_for_completion(instance_id, TIMEOUT_S, 0.01)
            assert json.loads(done.output or "") == {"approved": "later"}
        finally:
            await second.stop()
            await service.close()
            executor.shutdown(wait=True)
    assert service.durable is False


# ---- poison messages --------------------------------------------------------------------------
@pytest.fixture
async def fragile(hub_name: str) -> AsyncIterator[MemoryEngine]:
    """An engine whose episodes, activities and entity batches fail for some inputs (threshold 2)."""
    service = memory_service(hub_name, poison_message_dequeue_count=2)
    executor = ThreadPoolExecutor(2)
    runners: dict[str, Any] = {
        "orchestrations": BrokenEngine(REGISTRY, executor),
        "activities": CrashingActivities(REGISTRY),
        "entities": CrashingEntities(REGISTRY, executor, max_batch_size=10),
    }
    async with memory_engine(service, **runners) as running:
        yield running
    executor.shutdown(wait=True)


async def test_an_instance_whose_episodes_always_fail_is_failed_with_the_reason(
    fragile: MemoryEngine,
) -> None:
    instance_id = await fragile.client.start("greeter", _input("x"), "broken-1")
    state = await fragile.client.wait_for_completion(instance_id, TIMEOUT_S, 0.01)
    assert state.status == S.Failed
    output = state.output or ""
    assert "delivered 3 times and its episode failed every time" in output
    assert "RuntimeError: the engine cannot run this instance" in output
    poison = await fragile.client.poison_messages(instance_id)
    assert [(p.queue, p.dequeue_count, p.reason) for p in poison] == [("control", 3, output)]
    assert json.loads(poison[0].body)["eventType"] == "ExecutionStarted"


async def test_an_activity_that_never_completes_fails_its_task(fragile: MemoryEngine) -> None:
    instance_id = await fragile.client.start("greeter", _input("crash"))
    state = await fragile.client.wait_for_completion(instance_id, TIMEOUT_S, 0.01)
    assert state.status == S.Failed
    assert "delivered 3 times and the activity never completed" in (state.output or "")
    poison = await fragile.client.poison_messages(instance_id)
    assert [(p.queue, p.dequeue_count) for p in poison] == [("workitems", 3)]
    assert json.loads(poison[0].body)["props"]["Name"] == "hello"


async def test_an_entity_sets_its_poison_messages_aside_and_goes_on(fragile: MemoryEngine) -> None:
    entity = EntityId.of("tally", "fragile")
    await fragile.client.signal_entity(entity, "crash")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while not await fragile.client.poison_messages(entity.instance_id):
        assert loop.time() < deadline
        await asyncio.sleep(0.01)
    await fragile.client.signal_entity(entity, "add", _input(2))
    while (status := await fragile.client.read_entity(entity)) is None or status.state != "2":
        assert loop.time() < deadline, status
        await asyncio.sleep(0.01)
    [poison] = await fragile.client.poison_messages(entity.instance_id)
    assert "the entity's batches with it failed every time" in poison.reason
    assert poison.queue == "control"
