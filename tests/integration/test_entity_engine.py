"""Entities in the engine without the HTTP host: SDK entity -> worker -> Azure Storage task hub."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.core.client import TaskHubClient
from durable_ext.core.entities import EntityId
from durable_ext.core.entity_queries import EntityStatus
from durable_ext.extension.entity_runner import SdkEntityRunner
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner

from .test_engine import _history_rows, _instance_row, _service, registry_of
from .workers import running_worker

app = df.DFApp()


@app.entity_trigger(context_name="context")
def journal(context: df.DurableEntityContext) -> None:
    entries: list = context.get_state(list)
    if context.operation_name == "record":
        entries.append(context.get_input())
        context.set_state(entries)
    elif context.operation_name == "delete":
        context.destruct_on_exit()


REGISTRY = registry_of(app)


@dataclass
class EntityEngine:
    service: AzureStorageOrchestrationService
    client: TaskHubClient


@pytest.fixture
async def engine(connection_string: str, hub_name: str) -> AsyncIterator[EntityEngine]:
    service = _service(connection_string, hub_name)
    executor = ThreadPoolExecutor(2)
    orchestrations, activities = SdkOrchestrationRunner(REGISTRY, executor), SdkActivityRunner(REGISTRY)
    entities = SdkEntityRunner(REGISTRY, executor, max_batch_size=3)
    async with running_worker(service, executor, orchestrations, activities, entities=entities):
        yield EntityEngine(service, TaskHubClient(service))


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


async def test_scheduled_signal_waits_for_its_time(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "scheduled")
    due = datetime.now(UTC) + timedelta(seconds=3)
    await engine.client.signal_entity(entity, "record", _input("late"), scheduled_time=due)
    await engine.client.signal_entity(entity, "record", _input("now"))
    await _read_until(engine.client, entity, ["now"])
    await _read_until(engine.client, entity, ["now", "late"])
    assert datetime.now(UTC) >= due


async def test_batches_are_limited_and_continue_by_themselves(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "batches")
    for i in range(10):
        await engine.client.signal_entity(entity, "record", _input(i))
    status = await _read_until(engine.client, entity, list(range(10)))
    assert status.exists and status.queue_size == 0
    state = await engine.client.get_state(entity.instance_id)
    assert state is not None and state.generation >= 4  # ten operations in batches of at most three


async def test_entity_history_is_one_execution_holding_the_scheduler_state(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "layout")
    await engine.client.signal_entity(entity, "record", _input("x"))
    await _read_until(engine.client, entity, ["x"])
    rows = await _history_rows(engine.service, entity.instance_id)
    sentinel = next(r for r in rows if r["RowKey"] == "sentinel")
    current = sorted(
        (r for r in rows if r["RowKey"] != "sentinel" and r["ExecutionId"] == sentinel["ExecutionId"]),
        key=lambda r: r["RowKey"],
    )
    assert [r["EventType"] for r in current][:3] == [
        "OrchestratorStarted",
        "ExecutionStarted",
        "OrchestratorCompleted",
    ]
    scheduler = json.loads(current[1]["Input"])
    assert scheduler["exists"] is True and json.loads(scheduler["state"]) == ["x"]
    assert current[1]["Name"] == "journal"


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
    assert await engine.client.purge_deleted_entities() == 1
    assert await engine.client.read_entity(deleted) is None
    kept_status = await engine.client.read_entity(kept)
    assert kept_status is not None and kept_status.exists


async def test_large_entity_state_is_kept_in_blobs_and_read_back(engine: EntityEngine) -> None:
    entity = EntityId.of("journal", "large")
    big = "x" * 200_000  # well over the 64 KiB a table property may hold
    await engine.client.signal_entity(entity, "record", _input(big))
    await _read_until(engine.client, entity, [big])
    await engine.client.signal_entity(entity, "record", _input("more"))
    status = await _read_until(engine.client, entity, [big, "more"])
    assert status.exists
    row = await _instance_row(engine.service, entity.instance_id)
    assert str(row["Input"]).startswith("http")  # the row points at the blob
