"""Entities in the engine without the HTTP host: SDK entity -> worker -> task hub, on every provider."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from durable_ext.core.client import TaskHubClient
from durable_ext.core.entities import REQUEST_EVENT, EntityId, RequestMessage
from durable_ext.core.entity_queries import EntityQuery, EntityStatus
from durable_ext.core.history import EventType, OrchestrationStatus, event
from durable_ext.core.messages import TaskMessage
from durable_ext.core.queries import InstanceQuery
from durable_ext.core.worker import TaskHubWorker
from durable_ext.extension.entity_runner import SdkEntityRunner
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner

from ..providers import azure_only, build_service, durable_time, every_provider, provider_of
from .test_engine import _history_rows, _instance_row, registry_of

app = df.DFApp()


@app.entity_trigger(context_name="context")
def journal(context: df.DurableEntityContext) -> None:
    entries: list = context.get_state(list)
    if context.operation_name == "record":
        entries.append(context.get_input())
        context.set_state(entries)
        context.set_result(len(entries))
    elif context.operation_name == "get":
        context.set_result(entries)
    elif context.operation_name == "delete":
        context.destruct_on_exit()


@app.orchestration_trigger(context_name="context")
def keeper(context: df.DurableOrchestrationContext) -> Any:
    entity = df.EntityId("journal", context.get_input())
    context.signal_entity(entity, "record", "signalled")
    count = yield context.call_entity(entity, "record", "called")
    entries = yield context.call_entity(entity, "get")
    return {"count": count, "entries": entries}


REGISTRY = registry_of(app)


@dataclass
class EntityEngine:
    service: Any
    client: TaskHubClient
    provider: str


@pytest.fixture
async def engine(
    request: pytest.FixtureRequest, connection_string: str, postgres_dsn: str, hub_name: str
) -> AsyncIterator[EntityEngine]:
    provider = provider_of(request)
    service = build_service(provider, connection_string, hub_name, dsn=postgres_dsn)
    executor = ThreadPoolExecutor(2)
    worker = TaskHubWorker(
        service,
        SdkOrchestrationRunner(REGISTRY, executor),
        SdkActivityRunner(REGISTRY),
        max_concurrent_orchestrations=4,
        max_concurrent_activities=4,
        entities=SdkEntityRunner(REGISTRY, executor, max_batch_size=3),
    )
    async with durable_time(service):
        await worker.start()
        try:
            yield EntityEngine(service, TaskHubClient(service), provider)
        finally:
            await worker.stop()
            await service.close()
            executor.shutdown(wait=True)


def _input(value: Any) -> str:
    return json.dumps(json.dumps(value))


async def _read_until(
    client: TaskHubClient, entity: EntityId, expected: Any, timeout_s: float = 20
) -> EntityStatus:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    status = None
    while loop.time() < deadline:
        status = await client.read_entity(entity)
        if status is not None and status.state is not None and json.loads(status.state) == expected:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{entity} never reached {expected!r}: {status}")


@every_provider()
async def test_scheduled_signal_waits_for_its_time(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "scheduled")
    due = engine.service.clock.now() + timedelta(seconds=2)
    await engine.client.signal_entity(entity, "record", _input("late"), scheduled_time=due)
    await engine.client.signal_entity(entity, "record", _input("now"))
    await _read_until(engine.client, entity, ["now"])
    await _read_until(engine.client, entity, ["now", "late"])
    assert engine.service.clock.now() >= due


@every_provider()
async def test_batches_are_limited_and_continue_by_themselves(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "batches")
    for i in range(10):
        await engine.client.signal_entity(entity, "record", _input(i))
    status = await _read_until(engine.client, entity, list(range(10)))
    assert status.exists and status.queue_size == 0
    state = await engine.client.get_state(entity.instance_id)
    assert state is not None and state.generation >= 4  # ten operations in batches of at most three


@every_provider()
async def test_entity_history_is_one_execution_holding_the_scheduler_state(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "layout")
    await engine.client.signal_entity(entity, "record", _input("x"))
    await _read_until(engine.client, entity, ["x"])
    current = await engine.client.get_history(entity.instance_id)
    assert [e.event_type for e in current][:3] == [
        EventType.OrchestratorStarted,
        EventType.ExecutionStarted,
        EventType.OrchestratorCompleted,
    ]
    scheduler = json.loads(current[1].input or "")
    assert scheduler["exists"] is True and json.loads(scheduler["state"]) == ["x"]
    assert current[1].name == "journal"
    state = await engine.client.get_state(entity.instance_id)
    assert state is not None and state.status == OrchestrationStatus.Running
    assert json.loads(state.custom_status or "") == {"entityExists": True, "queueSize": 0}


@azure_only("the sentinel row is Azure Storage's History table layout")
async def test_entity_rows_are_the_sentinel_execution(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "rows")
    await engine.client.signal_entity(entity, "record", _input("x"))
    await _read_until(engine.client, entity, ["x"])
    rows = await _history_rows(engine.service, entity.instance_id)
    sentinel = next(r for r in rows if r["RowKey"] == "sentinel")
    current = sorted(
        (r for r in rows if r["RowKey"] != "sentinel" and r["ExecutionId"] == sentinel["ExecutionId"]),
        key=lambda r: r["RowKey"],
    )
    assert [r["EventType"] for r in current][:2] == ["OrchestratorStarted", "ExecutionStarted"]
    assert json.loads(json.loads(current[1]["Input"])["state"]) == ["x"]


@every_provider()
async def test_deleted_entities_are_listed_on_request_and_purged(engine: EntityEngine) -> None:
    kept, deleted = EntityId.of("journal", "kept"), EntityId.of("journal", "gone")
    for entity in (kept, deleted):
        await engine.client.signal_entity(entity, "record", _input(1))
        await _read_until(engine.client, entity, [1])
    await engine.client.signal_entity(deleted, "delete")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while (status := await engine.client.read_entity(deleted)) is not None and status.exists:
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    listed = await engine.client.query_entities(EntityQuery(entity_name="Journal"))
    assert [s.entity_id for s in listed.entities] == [kept]
    everything = await engine.client.query_entities(EntityQuery(include_deleted=True, fetch_state=True))
    assert {s.entity_id: s.state for s in everything.entities} == {deleted: None, kept: "[1]"}
    assert await engine.client.purge_deleted_entities() == 1
    assert await engine.client.read_entity(deleted) is None
    kept_status = await engine.client.read_entity(kept)
    assert kept_status is not None and kept_status.exists


@every_provider()
async def test_entity_listing_pages(engine: EntityEngine) -> None:
    entities = [EntityId.of("journal", f"page-{i}") for i in range(5)]
    for entity in entities:
        await engine.client.signal_entity(entity, "record", _input(entity.key))
    for entity in entities:
        await _read_until(engine.client, entity, [entity.key])
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = await engine.client.query_entities(EntityQuery(page_size=2, continuation_token=token))
        seen += [s.entity_id.key for s in page.entities]
        pages += 1
        token = page.continuation_token
        if token is None:
            break
    assert seen == [e.key for e in entities]
    assert pages == 3
    orchestrations = await engine.client.query(InstanceQuery())
    assert orchestrations.states == []  # entities are never listed among orchestrations


@every_provider()
async def test_large_entity_state_is_kept_and_read_back(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "large")
    big = "x" * 200_000  # well over the 64 KiB an Azure table property may hold
    await engine.client.signal_entity(entity, "record", _input(big))
    await _read_until(engine.client, entity, [big])
    await engine.client.signal_entity(entity, "record", _input("more"))
    status = await _read_until(engine.client, entity, [big, "more"])
    assert status.exists


@azure_only("large values are moved to Azure Storage blobs; the memory provider keeps them as they are")
async def test_large_entity_state_is_kept_in_blobs(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "blob")
    await engine.client.signal_entity(entity, "record", _input("x" * 200_000))
    await _read_until(engine.client, entity, ["x" * 200_000])
    row = await _instance_row(engine.service, entity.instance_id)
    assert str(row["Input"]).startswith("http")  # the row points at the blob


@every_provider()
async def test_orchestration_signals_and_calls_an_entity(engine: EntityEngine) -> None:
    key = f"k-{uuid.uuid4().hex[:8]}"
    instance_id = await engine.client.start("keeper", _input(key))
    state = await engine.client.wait_for_completion(instance_id, 20, 0.05)
    assert state.status == OrchestrationStatus.Completed, state.output
    assert json.loads(state.output or "") == {"count": 2, "entries": ["signalled", "called"]}
    status = await engine.client.read_entity(EntityId.of("journal", key))
    assert status is not None and json.loads(status.state or "") == ["signalled", "called"]


@every_provider()
async def test_a_lock_holds_other_callers_back_until_it_is_released(engine: EntityEngine) -> None:
    """A critical section: the lock request locks the entity for its orchestration; a client's
    operation waits in the queue until the holder releases the lock, then runs."""
    entity = EntityId.of("journal", "locked")
    lock = RequestMessage(
        None,
        str(uuid.uuid4()),
        parent_instance_id="holder",
        parent_execution_id="holder-execution",
        extra={"lockset": [entity.instance_id], "pos": 0},
    )
    raised = event(EventType.EventRaised, -1, Name=REQUEST_EVENT, Input=lock.to_json())
    await engine.client.service.send_message(TaskMessage(raised, entity.instance_id, None))
    await engine.client.signal_entity(entity, "record", _input("after the lock"))
    for _ in range(100):
        state = await engine.client.get_state(entity.instance_id)
        status = json.loads((state.custom_status if state else None) or "{}")
        if status.get("lockedBy") == "holder" and status.get("queueSize") == 1:
            break
        await asyncio.sleep(0.05)
    assert status == {"entityExists": False, "queueSize": 1, "lockedBy": "holder"}
    release = event(
        EventType.EventRaised, -1, Name="release", Input=json.dumps({"parent": "holder", "id": lock.id})
    )
    await engine.client.service.send_message(TaskMessage(release, entity.instance_id, None))
    await _read_until(engine.client, entity, ["after the lock"])
    state = await engine.client.get_state(entity.instance_id)
    assert state is not None
    assert "lockedBy" not in json.loads(state.custom_status or "{}")
