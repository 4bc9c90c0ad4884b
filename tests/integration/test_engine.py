"""The whole engine without the HTTP host: SDK app -> worker -> task hub, on every provider.

Each behaviour test runs on Azure Storage (Azurite) and on the memory provider (see tests/providers.py).
The tests that read Azure Storage's own tables and queues run on it only, and say why.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest
from azure.data.tables.aio import TableClient

from durable_ext.azurestorage.names import escape_key
from durable_ext.azurestorage.routing import partition_for
from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.core.client import TaskHubClient
from durable_ext.core.history import EventType, OrchestrationStatus
from durable_ext.core.queries import InstanceQuery
from durable_ext.core.service import TaskHubService
from durable_ext.core.worker import TaskHubWorker
from durable_ext.errors import InstanceAlreadyExistsError
from durable_ext.extension.functions import FunctionRegistry
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner
from durable_ext.memory.service import MemoryOrchestrationService

from ..providers import (
    AZURE,
    MEMORY,
    POSTGRES,
    azure_only,
    azure_service,
    build_service,
    durable_time,
    every_provider,
    provider_of,
)

TIMEOUT_S = 30.0
S = OrchestrationStatus

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext) -> Any:
    results = []
    for city in context.get_input():
        results.append((yield context.call_activity("hello", city)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Any:
    n = context.get_input()
    parts = yield context.task_all([context.call_activity("square", i) for i in range(n)])
    return {"parts": parts, "sum": sum(parts)}


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_activity("explode", "now")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext) -> Any:
    value = yield context.wait_for_external_event("Go")
    return {"got": value}


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext) -> Any:
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=context.get_input()))
    return "woke"


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext) -> Any:
    child_id = f"{context.instance_id}-child"
    cities = yield context.call_sub_orchestrator("chain", context.get_input(), child_id)
    return {"child": child_id, "cities": cities}


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext) -> Any:
    n = context.get_input()
    yield context.call_activity("square", n)
    if n < 3:
        context.continue_as_new(n + 1)
        return None
    return n


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_activity("flaky", context.get_input()))


@app.orchestration_trigger(context_name="context")
def flaky_parent(context: df.DurableOrchestrationContext) -> Any:
    first = yield context.call_activity("hello", "start")
    child_id = f"{context.instance_id}-c"
    second = yield context.call_sub_orchestrator("flaky_child", context.get_input(), child_id)
    return [first, second]


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext) -> Any:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=250, max_number_of_attempts=3)
    return (yield context.call_activity_with_retry("flaky", options, context.get_input()))


@app.activity_trigger(input_name="city")
def hello(city: str) -> str:
    return f"Hello {city}"


@app.activity_trigger(input_name="n")
async def square(n: int) -> int:
    return n * n


@app.activity_trigger(input_name="when")
def explode(when: str) -> str:
    raise ValueError(f"kaboom {when}")


FAILURES_LEFT: dict[str, int] = {}
"""Per ``flaky`` input: how many more calls fail (its input is ``"<key>:<failures>"``)."""


@app.activity_trigger(input_name="spec")
def flaky(spec: str) -> str:
    key, failures = spec.rsplit(":", 1)
    left = FAILURES_LEFT.setdefault(key, int(failures))
    if left > 0:
        FAILURES_LEFT[key] = left - 1
        raise RuntimeError(f"{key} is not ready ({left} failures left)")
    return f"{key} ready"


def _activity_handler(user: Callable[..., Any], parameter: str) -> Callable[[Any], Awaitable[Any]]:
    async def handler(argument: Any) -> Any:
        result = user(**{parameter: argument})
        if inspect.isawaitable(result):
            result = await result
        return result

    return handler


def registry_of(sdk_app: df.DFApp) -> FunctionRegistry:
    """The orchestrators, activities and entities of an SDK app (builds its functions: once per app)."""
    registry = FunctionRegistry()
    for fn in sdk_app.get_functions():
        trigger = fn.get_trigger()
        if trigger.type == "orchestrationTrigger":
            registry.add_orchestrator(fn.get_function_name(), fn.get_user_function())
        elif trigger.type == "activityTrigger":
            registry.add_activity(
                fn.get_function_name(), _activity_handler(fn.get_user_function(), trigger.name)
            )
        elif trigger.type == "entityTrigger":
            registry.add_entity(fn.get_function_name(), fn.get_user_function())
    return registry


REGISTRY = registry_of(app)


def _sdk_input(value: Any) -> str:
    """How the SDK client's start_new encodes an input (JSON of its df_dumps text)."""
    return json.dumps(json.dumps(value))


def _flaky_input(failures: int) -> str:
    return f"{uuid.uuid4().hex}:{failures}"


@dataclass
class Engine:
    service: Any
    """The provider's service (:class:`TaskHubService`; the Azure Storage one where a test says so)."""
    worker: TaskHubWorker
    client: TaskHubClient
    provider: str = AZURE


def _worker(service: TaskHubService, executor: ThreadPoolExecutor) -> TaskHubWorker:
    return TaskHubWorker(
        service,
        SdkOrchestrationRunner(REGISTRY, executor),
        SdkActivityRunner(REGISTRY),
        max_concurrent_orchestrations=10,
        max_concurrent_activities=10,
    )


@asynccontextmanager
async def engine_on(service: TaskHubService, provider: str) -> AsyncIterator[Engine]:
    """A started worker and a client on ``service``, with its clock as durable time."""
    executor = ThreadPoolExecutor(4)
    worker = _worker(service, executor)
    async with durable_time(service):
        await worker.start()
        try:
            yield Engine(service, worker, TaskHubClient(service), provider)
        finally:
            await worker.stop()
            await service.close()
            executor.shutdown(wait=True)


@asynccontextmanager
async def running_engine(connection_string: str, hub_name: str, **overrides: Any) -> AsyncIterator[Engine]:
    """A started worker and a client on an Azure Storage hub (settings ``overrides``)."""
    async with engine_on(azure_service(connection_string, hub_name, **overrides), AZURE) as running:
        yield running


@pytest.fixture
async def engine(
    request: pytest.FixtureRequest, connection_string: str, postgres_dsn: str, hub_name: str
) -> AsyncIterator[Engine]:
    """A running engine on the provider the test is parametrized with (Azure Storage by default)."""
    provider = provider_of(request)
    service = build_service(provider, connection_string, hub_name, dsn=postgres_dsn)
    async with engine_on(service, provider) as running:
        yield running


@pytest.fixture
async def hub(
    request: pytest.FixtureRequest, connection_string: str, postgres_dsn: str, hub_name: str
) -> AsyncIterator[tuple[str, TaskHubService]]:
    """A provider's service with no worker: what a client alone sees."""
    provider = provider_of(request)
    service = build_service(provider, connection_string, hub_name, dsn=postgres_dsn)
    try:
        yield provider, service
    finally:
        await service.close()


async def _history_rows(service: AzureStorageOrchestrationService, instance_id: str) -> list[dict[str, Any]]:
    table: TableClient = service.history.table
    query = table.query_entities("PartitionKey eq @pk", parameters={"pk": escape_key(instance_id)})
    return [dict(row) async for row in query]


async def _instance_row(service: AzureStorageOrchestrationService, instance_id: str) -> dict[str, Any]:
    table: TableClient = service.instances.table
    return dict(await table.get_entity(escape_key(instance_id), ""))


async def _queued_starts(provider: str, service: Any, instance_id: str) -> list[str]:
    """The orchestrator names of the starts waiting for ``instance_id`` in the hub's queues."""
    if provider == MEMORY:
        record = service.hub.records.get(instance_id)
        return [m.message.event.name for m in (record.inbox if record else []) if m.is_start]
    if provider == POSTGRES:
        async with service.connection() as conn:
            rows = await conn.fetch(
                f"SELECT Message FROM {service.settings.schema}.NewEvents WHERE TaskHub = $1 "
                "AND InstanceID = $2 AND EventType = 'ExecutionStarted' ORDER BY SequenceNumber",
                service.hub,
                instance_id,
            )
        return [json.loads(r["message"])["event"]["props"]["Name"] for r in rows]
    queue = service.control_queues[partition_for(instance_id, service.settings.partition_count)].client
    for other in service.control_queues:
        if other.client is not queue:
            assert await other.client.peek_messages(max_messages=32) == []
    messages = await queue.peek_messages(max_messages=32)
    return [json.loads(m.content)["TaskMessage"]["Event"]["Name"] for m in messages]


async def _wait_for_status(client: TaskHubClient, instance_id: str, status: OrchestrationStatus) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while loop.time() < deadline:
        state = await client.get_state(instance_id)
        if state is not None and state.status == status:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"instance '{instance_id}' never became {status.name}")


async def _completed(engine: Engine, instance_id: str) -> Any:
    state = await engine.client.wait_for_completion(instance_id, TIMEOUT_S, 0.05)
    assert state.status == S.Completed, state.output
    return json.loads(state.output or "null")


# ---- orchestrations ---------------------------------------------------------------------------
@every_provider()
async def test_chain_output_history_and_state(engine: Engine) -> None:
    cities = ["Tokyo", "Seattle", "London"]
    stored_input = _sdk_input(cities)
    instance_id = await engine.client.start("chain", stored_input, "chain-1")
    assert instance_id == "chain-1"
    state = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert state.status == S.Completed
    assert json.loads(state.output or "") == ["Hello Tokyo", "Hello Seattle", "Hello London"]

    history = await engine.client.get_history(instance_id)
    assert [e.event_type.name for e in history] == [
        "OrchestratorStarted", "ExecutionStarted", "TaskScheduled", "OrchestratorCompleted",
        "OrchestratorStarted", "TaskCompleted", "TaskScheduled", "OrchestratorCompleted",
        "OrchestratorStarted", "TaskCompleted", "TaskScheduled", "OrchestratorCompleted",
        "OrchestratorStarted", "TaskCompleted", "ExecutionCompleted", "OrchestratorCompleted",
    ]  # fmt: skip
    scheduled = [e for e in history if e.event_type == EventType.TaskScheduled]
    assert [(e.event_id, e.name, e.input) for e in scheduled] == [
        (i, "hello", json.dumps([json.dumps(c)])) for i, c in enumerate(cities)
    ]
    completed = [e for e in history if e.event_type == EventType.TaskCompleted]
    assert [(e.task_scheduled_id, e.get("Result")) for e in completed] == [
        (i, json.dumps(f"Hello {c}")) for i, c in enumerate(cities)
    ]
    started = history[1]
    assert started.props["OrchestrationInstance"]["ExecutionId"] == state.execution_id
    assert (state.name, state.input, state.generation) == ("chain", stored_input, 0)
    assert state.created_time is not None and state.completed_time is not None
    assert state.last_updated_time is not None
    assert state.created_time == started.timestamp <= state.last_updated_time
    assert state.custom_status is None


@azure_only("the History and Instances table layout is Azure Storage's")
async def test_chain_rows_follow_the_azure_storage_layout(engine: Engine) -> None:
    instance_id = await engine.client.start("chain", _sdk_input(["Tokyo"]), "chain-rows")
    state = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    rows = await _history_rows(engine.service, instance_id)
    assert rows[-1]["RowKey"] == "sentinel"
    history = rows[:-1]
    assert [r["RowKey"] for r in history] == [f"{i:016X}" for i in range(len(history))]
    final = next(r for r in history if r["EventType"] == "ExecutionCompleted")
    assert final["OrchestrationStatus"] == "Completed"
    assert {r["ExecutionId"] for r in rows} == {state.execution_id}

    row = await _instance_row(engine.service, instance_id)
    assert (row["Name"], row["RuntimeStatus"], row["Generation"]) == ("chain", "Completed", 0)
    assert json.loads(row["Output"]) == ["Hello Tokyo"]
    assert isinstance(row["CreatedTime"], datetime) and isinstance(row["CompletedTime"], datetime)
    assert row["ExecutionId"] == state.execution_id
    assert row["TaskHubName"] == engine.service.settings.hub_name
    assert state.created_time == row["CreatedTime"]


@every_provider()
async def test_fan_out_sum(engine: Engine) -> None:
    instance_id = await engine.client.start("fan_out", _sdk_input(6))
    assert await _completed(engine, instance_id) == {"parts": [0, 1, 4, 9, 16, 25], "sum": 55}
    events = await engine.client.get_history(instance_id)
    scheduled = [e for e in events if e.event_type == EventType.TaskScheduled]
    assert sorted(e.event_id for e in scheduled) == list(range(6))
    # all six were scheduled in the first episode, before its OrchestratorCompleted
    first_done = next(i for i, e in enumerate(events) if e.event_type == EventType.OrchestratorCompleted)
    assert all(events.index(e) < first_done for e in scheduled)
    completed = [e for e in events if e.event_type == EventType.TaskCompleted]
    assert sorted(e.task_scheduled_id or 0 for e in completed) == list(range(6))


@every_provider()
async def test_activity_failure_fails_the_orchestration(engine: Engine) -> None:
    instance_id = await engine.client.start("fails", _sdk_input(None))
    state = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert state.status == S.Failed
    output = state.output or ""
    assert output.startswith("Orchestrator function 'fails' failed:")
    assert "Activity function 'explode' failed:  ValueError: kaboom now" in output
    events = await engine.client.get_history(instance_id)
    failed = [e for e in events if e.event_type == EventType.TaskFailed]
    assert len(failed) == 1
    assert failed[0].get("Reason") == "Activity function 'explode' failed:  ValueError: kaboom now"
    assert failed[0].task_scheduled_id == 0
    final = next(e for e in events if e.event_type == EventType.ExecutionCompleted)
    assert final.get("OrchestrationStatus") == S.Failed
    assert final.get("Result") == output


@every_provider()
async def test_starting_a_running_instance_is_refused(engine: Engine) -> None:
    instance_id = await engine.client.start("waiter", _sdk_input(None), "waiting-1")
    await _wait_for_status(engine.client, instance_id, S.Running)
    before = await engine.client.get_state(instance_id)
    assert before is not None

    with pytest.raises(InstanceAlreadyExistsError) as info:
        await engine.client.start("chain", _sdk_input(["x"]), instance_id)
    assert info.value.instance_id == instance_id
    assert "Running" in str(info.value)

    after = await engine.client.get_state(instance_id)
    assert after is not None
    assert (after.status, after.execution_id, after.name) == (S.Running, before.execution_id, "waiter")
    await engine.client.raise_event(instance_id, "Go", json.dumps("yes"))
    done = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert done.status == S.Completed
    assert json.loads(done.output or "") == {"got": "yes"}
    assert (done.execution_id, done.name) == (before.execution_id, "waiter")


@every_provider("hub")
async def test_refused_start_enqueues_nothing(hub: tuple[str, TaskHubService]) -> None:
    provider, service = hub  # no worker: the first start stays Pending
    client = TaskHubClient(service)
    instance_id = await client.start("chain", _sdk_input(["a"]), "pending-1")
    state = await client.get_state(instance_id)
    assert state is not None
    assert state.status == S.Pending
    with pytest.raises(InstanceAlreadyExistsError, match="Pending"):
        await client.start("fan_out", _sdk_input(1), instance_id)
    assert await _queued_starts(provider, service, instance_id) == ["chain"]
    unchanged = await client.get_state(instance_id)
    assert unchanged is not None
    assert (unchanged.name, unchanged.execution_id) == ("chain", state.execution_id)


@every_provider()
async def test_completed_instance_can_be_started_again(engine: Engine) -> None:
    instance_id = "again-1"
    await engine.client.start("chain", _sdk_input(["A", "B", "C"]), instance_id)
    first = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert first.status == S.Completed
    assert first.generation == 0

    await engine.client.start("chain", _sdk_input(["Z"]), instance_id)
    second = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert second.status == S.Completed
    assert json.loads(second.output or "") == ["Hello Z"]
    assert second.generation == 1
    assert second.execution_id != first.execution_id
    assert second.input == _sdk_input(["Z"])

    events = await engine.client.get_history(instance_id)
    started = [e for e in events if e.event_type == EventType.ExecutionStarted]
    assert len(started) == 1
    assert started[0].props["OrchestrationInstance"]["ExecutionId"] == second.execution_id
    assert started[0].props["Generation"] == 1
    assert [e.event_type for e in events].count(EventType.TaskScheduled) == 1


@every_provider()
async def test_instance_ids_are_case_sensitive(engine: Engine) -> None:
    lower = await engine.client.start("chain", _sdk_input(["lower"]), "case-id")
    upper = await engine.client.start("chain", _sdk_input(["upper"]), "CASE-ID")
    assert await _completed(engine, lower) == ["Hello lower"]
    assert await _completed(engine, upper) == ["Hello upper"]


@every_provider()
async def test_sub_orchestration_returns_its_result_to_the_parent(engine: Engine) -> None:
    instance_id = await engine.client.start("parent", _sdk_input(["Oslo", "Lima"]), "family")
    result = await _completed(engine, instance_id)
    assert result == {"child": "family-child", "cities": ["Hello Oslo", "Hello Lima"]}
    child = await engine.client.get_state("family-child")
    assert child is not None
    assert (child.name, child.status) == ("chain", S.Completed)
    history = await engine.client.get_history(instance_id)
    kinds = [e.event_type for e in history]
    assert EventType.SubOrchestrationInstanceCreated in kinds
    assert EventType.SubOrchestrationInstanceCompleted in kinds
    child_started = (await engine.client.get_history("family-child"))[1]
    assert child_started.props["ParentInstance"]["OrchestrationInstance"]["InstanceId"] == instance_id


@every_provider()
async def test_timer_fires_at_its_time(engine: Engine) -> None:
    instance_id = await engine.client.start("sleeper", _sdk_input(1))
    assert await _completed(engine, instance_id) == "woke"
    history = await engine.client.get_history(instance_id)
    created = next(e for e in history if e.event_type == EventType.TimerCreated)
    fired = next(e for e in history if e.event_type == EventType.TimerFired)
    assert fired.timer_id == created.event_id
    woke = history[history.index(fired) - 1]
    assert woke.event_type == EventType.OrchestratorStarted
    assert woke.timestamp >= created.get("FireAt") == fired.get("FireAt")


@every_provider()
async def test_continue_as_new_keeps_only_the_last_execution(engine: Engine) -> None:
    instance_id = await engine.client.start("counter", _sdk_input(0))
    assert await _completed(engine, instance_id) == 3
    state = await engine.client.get_state(instance_id)
    assert state is not None and state.generation == 3
    assert json.loads(json.loads(state.input or "")) == 3
    history = await engine.client.get_history(instance_id)
    started = [e for e in history if e.event_type == EventType.ExecutionStarted]
    assert len(started) == 1
    assert started[0].props["OrchestrationInstance"]["ExecutionId"] == state.execution_id
    assert [e.event_type for e in history].count(EventType.TaskScheduled) == 1


@every_provider()
async def test_suspend_resume_and_terminate(engine: Engine) -> None:
    instance_id = await engine.client.start("waiter", _sdk_input(None))
    await _wait_for_status(engine.client, instance_id, S.Running)
    await engine.client.suspend(instance_id, "hold on")
    await _wait_for_status(engine.client, instance_id, S.Suspended)
    await engine.client.raise_event(instance_id, "Go", json.dumps("while suspended"))
    await asyncio.sleep(0.3)
    suspended = await engine.client.get_state(instance_id)
    assert suspended is not None and suspended.status == S.Suspended
    assert suspended.output == "hold on"
    await engine.client.resume(instance_id, "go on")
    assert await _completed(engine, instance_id) == {"got": "while suspended"}

    doomed = await engine.client.start("waiter", _sdk_input(None))
    await _wait_for_status(engine.client, doomed, S.Running)
    await engine.client.terminate(doomed, "no longer needed")
    state = await engine.client.wait_for_completion(doomed, TIMEOUT_S)
    assert (state.status, state.output) == (S.Terminated, "no longer needed")
    kinds = [e.event_type for e in await engine.client.get_history(doomed)]
    assert EventType.ExecutionTerminated in kinds


@every_provider()
async def test_terminating_a_pending_instance_finishes_it_at_once(engine: Engine) -> None:
    later = engine.service.clock.now() + timedelta(hours=1)
    instance_id = await engine.client.start("chain", _sdk_input(["x"]), scheduled_start_time=later)
    pending = await engine.client.get_state(instance_id)
    assert pending is not None and pending.status == S.Pending
    assert pending.scheduled_start_time == later
    await engine.client.terminate(instance_id, "cancelled before it ran")
    state = await engine.client.get_state(instance_id)
    assert state is not None
    assert (state.status, state.output) == (S.Terminated, "cancelled before it ran")
    assert await engine.client.get_history(instance_id) == []


@every_provider()
async def test_scheduled_start_waits_for_its_time(engine: Engine) -> None:
    at = engine.service.clock.now() + timedelta(seconds=4)
    instance_id = await engine.client.start("chain", _sdk_input(["late"]), scheduled_start_time=at)
    await asyncio.sleep(0.5)  # the worker has had time to take a start due at once
    waiting = await engine.client.get_state(instance_id)
    assert waiting is not None and waiting.status == S.Pending
    assert await _completed(engine, instance_id) == ["Hello late"]
    started = (await engine.client.get_history(instance_id))[0]
    assert started.event_type == EventType.OrchestratorStarted and started.timestamp >= at


@every_provider()
async def test_retry_with_back_off_runs_the_activity_again(engine: Engine) -> None:
    instance_id = await engine.client.start("retrying", _sdk_input(_flaky_input(2)))
    result = await _completed(engine, instance_id)
    assert result.endswith(" ready")
    history = await engine.client.get_history(instance_id)
    kinds = [e.event_type for e in history]
    assert (kinds.count(EventType.TaskScheduled), kinds.count(EventType.TaskFailed)) == (3, 2)
    timers = [e for e in history if e.event_type == EventType.TimerCreated]
    assert len(timers) == 2
    failures = [e for e in history if e.event_type == EventType.TaskFailed]
    for failure, timer in zip(failures, timers, strict=True):
        assert timer.get("FireAt") - failure.timestamp >= timedelta(milliseconds=200)


@every_provider()
async def test_rewind_runs_the_failed_activity_and_child_again(engine: Engine) -> None:
    instance_id = await engine.client.start("flaky_parent", _sdk_input(_flaky_input(1)))
    failed = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert failed.status == S.Failed
    child_id = f"{instance_id}-c"
    child = await engine.client.get_state(child_id)
    assert child is not None and child.status == S.Failed

    await engine.client.rewind(instance_id, "fixed it")
    result = await _completed(engine, instance_id)
    assert result[0] == "Hello start" and result[1].endswith(" ready")
    child_history = await engine.client.get_history(child_id)
    rewound = [e for e in child_history if e.event_type == EventType.GenericEvent and e.get("Reason")]
    assert {e.get("Reason") for e in rewound} >= {"Rewound: TaskFailed", "Rewound: TaskScheduled"}
    parent_history = await engine.client.get_history(instance_id)
    hello = [e for e in parent_history if e.event_type == EventType.TaskScheduled and e.name == "hello"]
    assert len(hello) == 1  # what succeeded before the failure did not run again


@every_provider()
async def test_purge_one_instance_and_finished_instances_by_query(engine: Engine) -> None:
    ids = [await engine.client.start("chain", _sdk_input([n]), f"purge-{n}") for n in "abc"]
    for instance_id in ids:
        await _completed(engine, instance_id)
    running = await engine.client.start("waiter", _sdk_input(None), "purge-running")
    await _wait_for_status(engine.client, running, S.Running)

    assert await engine.client.purge(ids[0]) == 1
    assert await engine.client.get_state(ids[0]) is None
    assert await engine.client.get_history(ids[0]) == []
    assert await engine.client.purge(ids[0]) == 0

    assert await engine.client.purge_by(InstanceQuery(instance_id_prefix="purge-")) == 2
    assert [await engine.client.get_state(i) for i in ids[1:]] == [None, None]
    kept = await engine.client.get_state(running)
    assert kept is not None and kept.status == S.Running  # only finished instances are purged


@every_provider()
async def test_queries_filter_and_page_in_instance_id_order(engine: Engine) -> None:
    ids = [await engine.client.start("chain", _sdk_input([str(n)]), f"q-{n}") for n in range(5)]
    for instance_id in ids:
        await _completed(engine, instance_id)
    await engine.client.start("waiter", _sdk_input(None), "q-waiting")
    await _wait_for_status(engine.client, "q-waiting", S.Running)

    pages: list[list[str]] = []
    token = None
    while True:
        query = InstanceQuery(instance_id_prefix="q-", page_size=2, continuation_token=token)
        page = await engine.client.query(query)
        pages.append([s.instance_id for s in page.states])
        token = page.continuation_token
        if token is None:
            break
    assert pages == [["q-0", "q-1"], ["q-2", "q-3"], ["q-4", "q-waiting"]]

    completed = await engine.client.query(InstanceQuery(statuses=frozenset({S.Completed}), name="chain"))
    assert [s.instance_id for s in completed.states] == ids
    assert all(s.input is not None for s in completed.states)
    bare = await engine.client.query(InstanceQuery(instance_id_prefix="q-0", show_input=False))
    assert [(s.instance_id, s.input, s.status) for s in bare.states] == [("q-0", None, S.Completed)]
    running = await engine.client.query(InstanceQuery(name="waiter"))
    assert [s.status for s in running.states] == [S.Running]


# ---- the Azure Storage provider's own ---------------------------------------------------------
@azure_only("a malformed message can only be put in an Azure Storage queue")
async def test_a_malformed_message_does_not_stop_its_control_queue(engine: Engine) -> None:
    instance_id = "after-garbage"
    queue = engine.service.control_queue_for(instance_id)
    await queue.send_body('{"TaskMessage": {"OrchestrationInstance": {"InstanceId": "x"}}}')
    await asyncio.sleep(1.0)  # let the dequeue loop read it first
    await engine.client.start("chain", _sdk_input(["Q"]), instance_id)
    state = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert state.status == S.Completed


@every_provider("hub")
@pytest.mark.timeout(20)
async def test_worker_stop_returns_promptly(hub: tuple[str, TaskHubService]) -> None:
    _provider, service = hub
    executor = ThreadPoolExecutor(2)
    worker = _worker(service, executor)
    await worker.start()
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        await worker.stop()
    finally:
        elapsed = loop.time() - began
        executor.shutdown(wait=True)
    assert elapsed < 5.0
    assert service.owned_partitions() == []
    if isinstance(service, MemoryOrchestrationService):
        assert await service.lock_next_orchestration_work_item() is None
