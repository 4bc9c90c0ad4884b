"""The History table store against Azurite: sentinel ETag commits, batching, restarts, escaped keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables.aio import TableClient, TableServiceClient

from durable_ext.azurestorage.history_store import HistoryStore
from durable_ext.azurestorage.names import escape_key
from durable_ext.core.history import EventType, HistoryEvent, execution_started
from durable_ext.errors import ConcurrencyConflictError

T0 = datetime(2024, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


@pytest.fixture
async def table(connection_string: str, hub_name: str) -> AsyncIterator[TableClient]:
    service = TableServiceClient.from_connection_string(connection_string)
    async with service:
        client = await service.create_table(f"{hub_name}History")
        async with client:
            yield client


@pytest.fixture
def store(table: TableClient) -> HistoryStore:
    return HistoryStore(table)


def _history(instance_id: str, execution_id: str, activities: int) -> list[HistoryEvent]:
    """A plausible history: start, then ``activities`` scheduled/completed pairs, episode markers."""
    events: list[HistoryEvent] = [
        HistoryEvent(EventType.OrchestratorStarted, -1, T0),
        execution_started(
            instance_id=instance_id,
            execution_id=execution_id,
            name="Chain",
            input_json='"\\"in\\""',
            tags={"t": "1"},
            timestamp=T0,
        ),
    ]
    for i in range(activities):
        at = T0 + timedelta(seconds=i + 1)
        events.append(
            HistoryEvent(
                EventType.TaskScheduled, i, at, False, {"Name": "A", "Version": "", "Input": f'["{i}"]'}
            )
        )
        events.append(
            HistoryEvent(EventType.TaskCompleted, -1, at, False, {"TaskScheduledId": i, "Result": str(i)})
        )
    return events


def _assert_same(loaded: list[HistoryEvent], written: list[HistoryEvent]) -> None:
    assert len(loaded) == len(written)
    for got, want in zip(loaded, written, strict=True):
        assert got.event_type == want.event_type
        assert got.event_id == want.event_id
        assert got.timestamp == want.timestamp
        assert got.props == {k: v for k, v in want.props.items() if v is not None}


async def _rows(table: TableClient, instance_id: str) -> list[dict[str, Any]]:
    query = table.query_entities("PartitionKey eq @pk", parameters={"pk": escape_key(instance_id)})
    return [dict(row) async for row in query]


async def test_commit_new_instance_then_load(store: HistoryStore, table: TableClient) -> None:
    events = _history("inst-1", "exec-1", 2)
    etag = await store.commit("inst-1", "exec-1", 0, events, None)
    assert etag

    loaded = await store.load("inst-1")
    assert loaded.execution_id == "exec-1"
    assert loaded.etag == etag
    _assert_same(loaded.events, events)
    assert loaded.events[1].props["OrchestrationInstance"] == {
        "InstanceId": "inst-1",
        "ExecutionId": "exec-1",
    }

    rows = await _rows(table, "inst-1")
    assert [r["RowKey"] for r in rows] == [f"{i:016X}" for i in range(len(events))] + ["sentinel"]
    sentinel = rows[-1]
    assert sentinel["ExecutionId"] == "exec-1"
    assert sentinel["IsCheckpointComplete"] is True
    assert isinstance(sentinel["CheckpointCompletedTimestamp"], datetime)
    assert all(r["ExecutionId"] == "exec-1" for r in rows)
    assert rows[1]["EventType"] == "ExecutionStarted"
    assert rows[2]["EventType"] == "TaskScheduled"


async def test_load_of_unknown_instance_is_empty(store: HistoryStore) -> None:
    loaded = await store.load("nobody")
    assert loaded.events == []
    assert loaded.execution_id is None
    assert loaded.etag is None


async def test_commits_append_and_chain_etags(store: HistoryStore) -> None:
    events = _history("inst-2", "exec-2", 3)
    etag1 = await store.commit("inst-2", "exec-2", 0, events[:4], None)
    etag2 = await store.commit("inst-2", "exec-2", 4, events[4:], etag1)
    assert etag2 != etag1
    loaded = await store.load("inst-2")
    assert loaded.etag == etag2
    _assert_same(loaded.events, events)


async def test_stale_etag_is_a_concurrency_conflict(store: HistoryStore) -> None:
    events = _history("inst-3", "exec-3", 2)
    etag1 = await store.commit("inst-3", "exec-3", 0, events[:2], None)
    await store.commit("inst-3", "exec-3", 2, events[2:4], etag1)
    with pytest.raises(ConcurrencyConflictError):
        await store.commit("inst-3", "exec-3", 2, events[2:], etag1)
    # the losing writer changed nothing
    loaded = await store.load("inst-3")
    _assert_same(loaded.events, events[:4])


async def test_a_commit_after_the_history_was_purged_conflicts(store: HistoryStore) -> None:
    events = _history("inst-purged", "exec-p", 2)
    etag = await store.commit("inst-purged", "exec-p", 0, events[:2], None)
    await store.delete_instance("inst-purged")
    with pytest.raises(ConcurrencyConflictError):  # a cached history is never written over a purge
        await store.commit("inst-purged", "exec-p", 2, events[2:], etag)
    assert (await store.load("inst-purged")).events == []


async def test_second_creator_of_a_new_instance_conflicts(store: HistoryStore) -> None:
    events = _history("inst-4", "exec-4", 1)
    await store.commit("inst-4", "exec-4", 0, events, None)
    with pytest.raises(ConcurrencyConflictError):
        await store.commit("inst-4", "exec-other", 0, _history("inst-4", "exec-other", 0), None)
    assert (await store.load("inst-4")).execution_id == "exec-4"


async def test_more_than_99_events_split_into_several_transactions(
    store: HistoryStore, table: TableClient
) -> None:
    events = _history("big", "exec-big", 124)  # 2 + 248 = 250 events: three transactions
    assert len(events) == 250
    etag = await store.commit("big", "exec-big", 0, events, None)
    loaded = await store.load("big")
    assert loaded.etag == etag
    _assert_same(loaded.events, events)
    rows = await _rows(table, "big")
    assert len(rows) == 251
    assert rows[-1]["RowKey"] == "sentinel"
    assert rows[-1]["IsCheckpointComplete"] is True
    assert rows[-2]["RowKey"] == "00000000000000F9"


async def test_restart_with_a_shorter_execution_loads_only_the_new_one(
    store: HistoryStore, table: TableClient
) -> None:
    old = _history("again", "exec-old", 5)
    etag = await store.commit("again", "exec-old", 0, old, None)
    new = _history("again", "exec-new", 1)
    assert len(new) < len(old)
    new_etag = await store.commit("again", "exec-new", 0, new, etag)
    loaded = await store.load("again")
    assert loaded.execution_id == "exec-new"
    assert loaded.etag == new_etag
    _assert_same(loaded.events, new)
    # the tail of the old execution is still physically there, but not loaded
    rows = await _rows(table, "again")
    assert len(rows) == len(old) + 1
    assert {r["ExecutionId"] for r in rows[len(new) : -1]} == {"exec-old"}
    assert rows[-1]["ExecutionId"] == "exec-new"


async def test_restart_with_the_old_etag_conflicts(store: HistoryStore) -> None:
    etag = await store.commit("race", "exec-1", 0, _history("race", "exec-1", 1), None)
    await store.commit("race", "exec-2", 0, _history("race", "exec-2", 0), etag)
    with pytest.raises(ConcurrencyConflictError):
        await store.commit("race", "exec-3", 0, _history("race", "exec-3", 0), etag)
    assert (await store.load("race")).execution_id == "exec-2"


@pytest.mark.parametrize("instance_id", ["a/b", "c#d", "e?f", "g\\h", "^x/#?\\\x01", "order/42?x#1"])
async def test_instance_ids_with_escaped_characters(
    store: HistoryStore, table: TableClient, instance_id: str
) -> None:
    events = _history(instance_id, "exec-esc", 1)
    etag = await store.commit(instance_id, "exec-esc", 0, events, None)
    loaded = await store.load(instance_id)
    assert loaded.etag == etag
    _assert_same(loaded.events, events)
    rows = await _rows(table, instance_id)
    assert {r["PartitionKey"] for r in rows} == {escape_key(instance_id)}
    assert loaded.events[1].props["OrchestrationInstance"]["InstanceId"] == instance_id


async def test_delete_instance_removes_every_row(store: HistoryStore, table: TableClient) -> None:
    await store.commit("gone", "exec", 0, _history("gone", "exec", 60), None)
    deleted = await store.delete_instance("gone")
    assert deleted == 123  # 122 events + sentinel, across two delete transactions
    assert await _rows(table, "gone") == []
    assert (await store.load("gone")).events == []


async def test_a_property_over_the_table_limit_goes_to_a_blob_and_comes_back(
    connection_string: str, hub_name: str
) -> None:
    from durable_ext.azurestorage.service import AzureStorageOrchestrationService
    from durable_ext.azurestorage.settings import AzureStorageSettings
    from durable_ext.core.history import EventType, event, execution_started

    service = AzureStorageOrchestrationService(
        AzureStorageSettings(hub_name=hub_name, connection_string=connection_string)
    )
    try:
        await service.ensure_task_hub()
        big = "y" * 200_000
        started = execution_started(instance_id="big-1", execution_id="e1", name="n", input_json=big)
        events = [event(EventType.OrchestratorStarted), started]
        await service.history.commit("big-1", "e1", 0, events, None)
        row = await service.history.table.get_entity("big-1", "0000000000000001")
        assert row["Input"] == "" and row["InputBlobName"].startswith("big-1/history-0000000000000001-")
        loaded = await service.history.load("big-1")
        assert loaded.events[1].input == big
    finally:
        await service.close()
