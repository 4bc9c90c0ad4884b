"""The whole engine without the HTTP host: SDK app -> worker -> Azure Storage task hub (Azurite)."""

from __future__ import annotations

import asyncio
import inspect
import json
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
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.core.client import TaskHubClient
from durable_ext.core.history import EventType, OrchestrationStatus
from durable_ext.core.worker import TaskHubWorker
from durable_ext.errors import InstanceAlreadyExistsError
from durable_ext.extension.functions import FunctionRegistry
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner

TIMEOUT_S = 30.0

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


@app.activity_trigger(input_name="city")
def hello(city: str) -> str:
    return f"Hello {city}"


@app.activity_trigger(input_name="n")
async def square(n: int) -> int:
    return n * n


@app.activity_trigger(input_name="when")
def explode(when: str) -> str:
    raise ValueError(f"kaboom {when}")


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


@dataclass
class Engine:
    service: AzureStorageOrchestrationService
    worker: TaskHubWorker
    client: TaskHubClient


def _service(connection_string: str, hub_name: str, **overrides: Any) -> AzureStorageOrchestrationService:
    options: dict[str, Any] = {"max_queue_polling_interval_s": 1.0, **overrides}
    settings = AzureStorageSettings(hub_name=hub_name, connection_string=connection_string, **options)
    return AzureStorageOrchestrationService(settings)


def _worker(service: AzureStorageOrchestrationService, executor: ThreadPoolExecutor) -> TaskHubWorker:
    return TaskHubWorker(
        service,
        SdkOrchestrationRunner(REGISTRY, executor),
        SdkActivityRunner(REGISTRY),
        max_concurrent_orchestrations=10,
        max_concurrent_activities=10,
    )


async def _stop_worker(worker: TaskHubWorker) -> None:
    await worker.stop()


@asynccontextmanager
async def running_engine(connection_string: str, hub_name: str, **overrides: Any) -> AsyncIterator[Engine]:
    """A started worker and a client on the hub (settings ``overrides`` as for :func:`_service`)."""
    service = _service(connection_string, hub_name, **overrides)
    executor = ThreadPoolExecutor(4)
    worker = _worker(service, executor)
    await worker.start()
    try:
        yield Engine(service, worker, TaskHubClient(service))
    finally:
        await _stop_worker(worker)
        await service.close()
        executor.shutdown(wait=True)


@pytest.fixture
async def engine(connection_string: str, hub_name: str) -> AsyncIterator[Engine]:
    async with running_engine(connection_string, hub_name) as running:
        yield running


async def _history_rows(service: AzureStorageOrchestrationService, instance_id: str) -> list[dict[str, Any]]:
    table: TableClient = service.history.table
    query = table.query_entities("PartitionKey eq @pk", parameters={"pk": escape_key(instance_id)})
    return [dict(row) async for row in query]


async def _instance_row(service: AzureStorageOrchestrationService, instance_id: str) -> dict[str, Any]:
    table: TableClient = service.instances.table
    return dict(await table.get_entity(escape_key(instance_id), ""))


async def _wait_for_status(client: TaskHubClient, instance_id: str, status: OrchestrationStatus) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while loop.time() < deadline:
        state = await client.get_state(instance_id)
        if state is not None and state.status == status:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"instance '{instance_id}' never became {status.name}")


async def test_chain_output_history_and_instance_row(engine: Engine) -> None:
    cities = ["Tokyo", "Seattle", "London"]
    stored_input = _sdk_input(cities)
    instance_id = await engine.client.start("chain", stored_input, "chain-1")
    assert instance_id == "chain-1"
    state = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert state.status == OrchestrationStatus.Completed
    assert json.loads(state.output or "") == ["Hello Tokyo", "Hello Seattle", "Hello London"]

    rows = await _history_rows(engine.service, instance_id)
    assert rows[-1]["RowKey"] == "sentinel"
    history = rows[:-1]
    assert [r["RowKey"] for r in history] == [f"{i:016X}" for i in range(len(history))]
    assert [r["EventType"] for r in history] == [
        "OrchestratorStarted", "ExecutionStarted", "TaskScheduled", "OrchestratorCompleted",
        "OrchestratorStarted", "TaskCompleted", "TaskScheduled", "OrchestratorCompleted",
        "OrchestratorStarted", "TaskCompleted", "TaskScheduled", "OrchestratorCompleted",
        "OrchestratorStarted", "TaskCompleted", "ExecutionCompleted", "OrchestratorCompleted",
    ]  # fmt: skip
    scheduled = [r for r in history if r["EventType"] == "TaskScheduled"]
    assert [(r["EventId"], r["Name"], r["Input"]) for r in scheduled] == [
        (i, "hello", json.dumps([json.dumps(c)])) for i, c in enumerate(cities)
    ]
    completed = [r for r in history if r["EventType"] == "TaskCompleted"]
    assert [(r["TaskScheduledId"], r["Result"]) for r in completed] == [
        (i, json.dumps(f"Hello {c}")) for i, c in enumerate(cities)
    ]
    final = next(r for r in history if r["EventType"] == "ExecutionCompleted")
    assert final["OrchestrationStatus"] == "Completed"
    execution_id = rows[-1]["ExecutionId"]
    assert {r["ExecutionId"] for r in rows} == {execution_id}

    row = await _instance_row(engine.service, instance_id)
    assert row["Name"] == "chain"
    assert row["RuntimeStatus"] == "Completed"
    assert row["Input"] == stored_input
    assert json.loads(row["Output"]) == ["Hello Tokyo", "Hello Seattle", "Hello London"]
    assert isinstance(row["CreatedTime"], datetime)
    assert isinstance(row["CompletedTime"], datetime)
    assert row["CreatedTime"] <= row["LastUpdatedTime"]
    assert row["ExecutionId"] == execution_id
    assert row["Generation"] == 0
    assert row["TaskHubName"] == engine.service.settings.hub_name
    assert state.execution_id == execution_id
    assert state.created_time == row["CreatedTime"]


async def test_fan_out_sum(engine: Engine) -> None:
    instance_id = await engine.client.start("fan_out", _sdk_input(6))
    state = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert state.status == OrchestrationStatus.Completed
    assert json.loads(state.output or "") == {"parts": [0, 1, 4, 9, 16, 25], "sum": 55}
    events = await engine.client.get_history(instance_id)
    scheduled = [e for e in events if e.event_type == EventType.TaskScheduled]
    assert sorted(e.event_id for e in scheduled) == list(range(6))
    # all six were scheduled in the first episode, before its OrchestratorCompleted
    first_done = next(i for i, e in enumerate(events) if e.event_type == EventType.OrchestratorCompleted)
    assert all(events.index(e) < first_done for e in scheduled)
    completed = [e for e in events if e.event_type == EventType.TaskCompleted]
    assert sorted(e.task_scheduled_id or 0 for e in completed) == list(range(6))


async def test_activity_failure_fails_the_orchestration(engine: Engine) -> None:
    instance_id = await engine.client.start("fails", _sdk_input(None))
    state = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert state.status == OrchestrationStatus.Failed
    output = state.output or ""
    assert output.startswith("Orchestrator function 'fails' failed:")
    assert "Activity function 'explode' failed:  ValueError: kaboom now" in output
    events = await engine.client.get_history(instance_id)
    failed = [e for e in events if e.event_type == EventType.TaskFailed]
    assert len(failed) == 1
    assert failed[0].get("Reason") == "Activity function 'explode' failed:  ValueError: kaboom now"
    assert failed[0].task_scheduled_id == 0
    row = await _instance_row(engine.service, instance_id)
    assert row["RuntimeStatus"] == "Failed"
    assert row["Output"] == output


async def test_starting_a_running_instance_is_refused(engine: Engine) -> None:
    instance_id = await engine.client.start("waiter", _sdk_input(None), "waiting-1")
    await _wait_for_status(engine.client, instance_id, OrchestrationStatus.Running)
    before = await engine.client.get_state(instance_id)
    assert before is not None

    with pytest.raises(InstanceAlreadyExistsError) as info:
        await engine.client.start("chain", _sdk_input(["x"]), instance_id)
    assert info.value.instance_id == instance_id
    assert "Running" in str(info.value)

    after = await engine.client.get_state(instance_id)
    assert after is not None
    assert (after.status, after.execution_id, after.name) == (
        OrchestrationStatus.Running,
        before.execution_id,
        "waiter",
    )
    await engine.client.raise_event(instance_id, "Go", json.dumps("yes"))
    done = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert done.status == OrchestrationStatus.Completed
    assert json.loads(done.output or "") == {"got": "yes"}
    assert done.execution_id == before.execution_id
    assert done.name == "waiter"


async def test_refused_start_enqueues_nothing(connection_string: str, hub_name: str) -> None:
    service = _service(connection_string, hub_name)  # no worker: the first start stays Pending
    try:
        client = TaskHubClient(service)
        instance_id = await client.start("chain", _sdk_input(["a"]), "pending-1")
        state = await client.get_state(instance_id)
        assert state is not None
        assert state.status == OrchestrationStatus.Pending
        with pytest.raises(InstanceAlreadyExistsError, match="Pending"):
            await client.start("fan_out", _sdk_input(1), instance_id)
        queue = service.control_queues[partition_for(instance_id, 4)].client
        messages = await queue.peek_messages(max_messages=32)
        assert len(messages) == 1
        assert json.loads(messages[0].content)["TaskMessage"]["Event"]["Name"] == "chain"
        for other in service.control_queues:
            if other.client is not queue:
                assert await other.client.peek_messages(max_messages=32) == []
        unchanged = await client.get_state(instance_id)
        assert unchanged is not None
        assert (unchanged.name, unchanged.execution_id) == ("chain", state.execution_id)
    finally:
        await service.close()


async def test_completed_instance_can_be_started_again(engine: Engine) -> None:
    instance_id = "again-1"
    await engine.client.start("chain", _sdk_input(["A", "B", "C"]), instance_id)
    first = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert first.status == OrchestrationStatus.Completed
    assert first.generation == 0

    await engine.client.start("chain", _sdk_input(["Z"]), instance_id)
    second = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert second.status == OrchestrationStatus.Completed
    assert json.loads(second.output or "") == ["Hello Z"]
    assert second.generation == 1
    assert second.execution_id != first.execution_id

    events = await engine.client.get_history(instance_id)
    started = [e for e in events if e.event_type == EventType.ExecutionStarted]
    assert len(started) == 1
    assert started[0].props["OrchestrationInstance"]["ExecutionId"] == second.execution_id
    assert started[0].props["Generation"] == 1
    assert [e.event_type for e in events].count(EventType.TaskScheduled) == 1
    row = await _instance_row(engine.service, instance_id)
    assert row["Generation"] == 1
    assert row["ExecutionId"] == second.execution_id
    assert row["Input"] == _sdk_input(["Z"])


async def test_a_malformed_message_does_not_stop_its_control_queue(engine: Engine) -> None:
    instance_id = "after-garbage"
    queue = engine.service.control_queue_for(instance_id)
    await queue.send_body('{"TaskMessage": {"OrchestrationInstance": {"InstanceId": "x"}}}')
    await asyncio.sleep(1.0)  # let the dequeue loop read it first
    await engine.client.start("chain", _sdk_input(["Q"]), instance_id)
    state = await engine.client.wait_for_completion(instance_id, 10.0)
    assert state.status == OrchestrationStatus.Completed


@pytest.mark.timeout(20)
async def test_worker_stop_returns_promptly(connection_string: str, hub_name: str) -> None:
    service = _service(connection_string, hub_name)
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
        await service.close()
        executor.shutdown(wait=True)
    assert elapsed < 5.0
