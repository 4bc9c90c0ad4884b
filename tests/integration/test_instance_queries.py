"""Instance queries, paging, purge, pending termination and rewind on the Azure Storage provider (Azurite)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from durable_ext.azurestorage.instance_queries import encode_token
from durable_ext.azurestorage.names import escape_key
from durable_ext.azurestorage.routing import partition_for
from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.core.client import TaskHubClient
from durable_ext.core.history import EventType, HistoryEvent, OrchestrationStatus, execution_started
from durable_ext.core.queries import CONTINUATION_HEADER, InstanceQuery
from durable_ext.errors import InstanceNotFoundError, InstanceStateError, InvalidRequestError

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
S = OrchestrationStatus


@pytest.fixture
async def service(connection_string: str, hub_name: str) -> AsyncIterator[AzureStorageOrchestrationService]:
    svc = AzureStorageOrchestrationService(
        AzureStorageSettings(hub_name=hub_name, connection_string=connection_string, partition_count=2)
    )
    await svc.ensure_task_hub()
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
def client(service: AzureStorageOrchestrationService) -> TaskHubClient:
    return TaskHubClient(service)


async def _put_row(
    service: AzureStorageOrchestrationService,
    instance_id: str,
    status: OrchestrationStatus,
    created: datetime = T0,
    **extra: Any,
) -> None:
    row = {
        "PartitionKey": escape_key(instance_id),
        "RowKey": "",
        "Name": "Orch",
        "RuntimeStatus": status.name,
        "CreatedTime": created,
        "LastUpdatedTime": created,
        "Input": json.dumps({"id": instance_id}),
        "ExecutionId": "e-" + instance_id,
        "CustomStatus": "null",
        **extra,
    }
    await service.instances.table.upsert_entity(row, mode=UpdateMode.REPLACE)


async def _ids(client: TaskHubClient, query: InstanceQuery) -> list[str]:
    page = await client.query(query)
    return [s.instance_id for s in page.states]


async def _all_pages(client: TaskHubClient, query: InstanceQuery) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page = await client.query(InstanceQuery(page_size=query.page_size, continuation_token=token))
        pages.append([s.instance_id for s in page.states])
        token = page.continuation_token
        if token is None:
            return pages


# ---- queries -----------------------------------------------------------------------------------
async def test_filters_combine_and_entities_are_never_listed(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await _put_row(service, "order-1", S.Completed, T0)
    await _put_row(service, "order-2", S.Running, T0 + timedelta(hours=1))
    await _put_row(service, "order-3", S.Failed, T0 + timedelta(hours=2))
    await _put_row(service, "orders", S.Completed, T0)  # "order-" is not its prefix
    await _put_row(service, "invoice-1", S.Completed, T0 + timedelta(hours=3))
    await _put_row(service, "@counter@k1", S.Running, T0)  # an entity
    await _put_row(service, "a/b", S.Pending, T0)  # escaped key 'a^0b'

    everything = await _ids(client, InstanceQuery())
    assert sorted(everything) == ["a/b", "invoice-1", "order-1", "order-2", "order-3", "orders"]
    assert await _ids(client, InstanceQuery(instance_id_prefix="order-")) == ["order-1", "order-2", "order-3"]
    assert await _ids(client, InstanceQuery(instance_id_prefix="a/")) == ["a/b"]
    assert await _ids(client, InstanceQuery(statuses=frozenset({S.Completed, S.Failed}))) == [
        "invoice-1",
        "order-1",
        "order-3",
        "orders",
    ]
    window = InstanceQuery(created_from=T0 + timedelta(minutes=30), created_to=T0 + timedelta(hours=2))
    assert await _ids(client, window) == ["order-2", "order-3"]
    combined = InstanceQuery(
        created_from=T0 + timedelta(minutes=30), statuses=frozenset({S.Failed}), instance_id_prefix="order"
    )
    assert await _ids(client, combined) == ["order-3"]
    assert await _ids(client, InstanceQuery(instance_id_prefix="nothing")) == []


async def test_name_filter_matches_the_orchestrator_name_exactly(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await _put_row(service, "n-1", S.Completed, Name="Billing")
    await _put_row(service, "n-2", S.Completed, Name="billing")
    await _put_row(service, "n-3", S.Running)
    assert await _ids(client, InstanceQuery(name="Billing")) == ["n-1"]
    assert await _ids(client, InstanceQuery(name="Orch", instance_id_prefix="n-")) == ["n-3"]


async def test_show_input_false_leaves_the_input_out(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await _put_row(service, "with-input", S.Completed, Output='"done"')
    shown = (await client.query(InstanceQuery())).states[0]
    hidden = (await client.query(InstanceQuery(show_input=False))).states[0]
    assert shown.input == json.dumps({"id": "with-input"})
    assert hidden.input is None
    assert (hidden.name, hidden.status, hidden.output, hidden.created_time) == (
        "Orch",
        S.Completed,
        '"done"',
        T0,
    )


async def test_pages_cover_every_instance_once_and_the_last_page_has_no_token(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    ids = [f"page-{i:02d}" for i in range(7)]
    for instance_id in ids:
        await _put_row(service, instance_id, S.Completed)
    await _put_row(service, "@entity@x", S.Running)
    pages = await _all_pages(client, InstanceQuery(page_size=3))
    assert pages == [ids[0:3], ids[3:6], ids[6:7]]
    exact = await _all_pages(client, InstanceQuery(page_size=7))
    assert exact == [ids]  # no empty trailing page


async def test_a_token_continues_the_same_filter(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    for i in range(5):
        await _put_row(service, f"run-{i}", S.Running if i % 2 else S.Completed)
    first = await client.query(InstanceQuery(statuses=frozenset({S.Completed}), page_size=2))
    assert [s.instance_id for s in first.states] == ["run-0", "run-2"]
    assert first.continuation_token is not None
    second = await client.query(
        InstanceQuery(
            statuses=frozenset({S.Completed}), page_size=2, continuation_token=first.continuation_token
        )
    )
    assert [s.instance_id for s in second.states] == ["run-4"]
    assert second.continuation_token is None


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'{"after": 5}').decode(),
        base64.urlsafe_b64encode(b'["x"]').decode(),
    ],
)
async def test_a_token_we_did_not_issue_is_refused_naming_the_header(
    client: TaskHubClient, token: str
) -> None:
    with pytest.raises(InvalidRequestError, match=CONTINUATION_HEADER):
        await client.query(InstanceQuery(continuation_token=token))


async def test_our_own_token_format_round_trips(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await _put_row(service, "k-1", S.Completed)
    await _put_row(service, "k-2", S.Completed)
    assert await _ids(client, InstanceQuery(continuation_token=encode_token("k-1"))) == ["k-2"]


# ---- purge -------------------------------------------------------------------------------------
async def _commit_history(service: AzureStorageOrchestrationService, instance_id: str, events: int) -> None:
    history: list[HistoryEvent] = [
        HistoryEvent(EventType.OrchestratorStarted, -1, T0),
        execution_started(
            instance_id=instance_id, execution_id="x1", name="Orch", input_json="1", timestamp=T0
        ),
    ]
    history += [HistoryEvent(EventType.EventRaised, -1, T0, False, {"Name": "e"}) for _ in range(events)]
    await service.history.commit(instance_id, "x1", 0, history, None)


async def _history_count(service: AzureStorageOrchestrationService, instance_id: str) -> int:
    query = service.history.table.query_entities(
        "PartitionKey eq @pk", parameters={"pk": escape_key(instance_id)}
    )
    return len([row async for row in query])


async def _blob_names(service: AzureStorageOrchestrationService) -> list[str]:
    container = service.clients.blobs.get_container_client(service.names.large_messages_container)
    try:
        return sorted([b.name async for b in container.list_blobs()])
    except ResourceNotFoundError:
        return []


async def test_purge_one_deletes_history_row_and_blobs_of_that_instance_only(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    for instance_id in ("gone/1", "kept"):
        await _put_row(service, instance_id, S.Completed)
        await _commit_history(service, instance_id, 150)  # more than one delete transaction
    container = await service.clients.blobs.create_container(service.names.large_messages_container)
    for name in ("gone/1/message-a.json.gz", "gone^01/history-b.json.gz", "kept/message-c.json.gz"):
        await container.upload_blob(name, b"x")
    assert await _history_count(service, "gone/1") == 153

    assert await client.purge("gone/1") == 1
    assert await client.get_state("gone/1") is None
    assert await _history_count(service, "gone/1") == 0
    assert await _blob_names(service) == ["kept/message-c.json.gz"]
    assert await _history_count(service, "kept") == 153
    assert await client.get_state("kept") is not None
    assert await client.purge("gone/1") == 0


async def test_purge_one_without_a_large_message_container(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await _put_row(service, "plain", S.Failed)
    await _commit_history(service, "plain", 1)
    assert await _blob_names(service) == []
    assert await client.purge("plain") == 1
    assert await _history_count(service, "plain") == 0


async def test_purge_by_removes_only_finished_instances_in_the_range(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    for i, status in enumerate([S.Completed, S.Failed, S.Terminated, S.Running, S.Pending, S.Suspended]):
        await _put_row(service, f"p-{status.name}", status, T0 + timedelta(minutes=i))
    await _put_row(service, "p-old", S.Completed, T0 - timedelta(days=1))
    await _put_row(service, "@e@k", S.Completed, T0)
    for i in range(120):  # more than one page of the purge loop
        await _put_row(service, f"bulk-{i:03d}", S.Completed, T0 + timedelta(minutes=1))

    query = InstanceQuery(created_from=T0, created_to=T0 + timedelta(hours=1))
    assert await client.purge_by(query) == 123
    left = sorted(s.instance_id for s in (await client.query(InstanceQuery())).states)
    assert left == ["p-Pending", "p-Running", "p-Suspended", "p-old"]
    assert await client.get_state("@e@k") is not None  # entities are not purged here
    only_running = InstanceQuery(created_from=T0, statuses=frozenset({S.Running}))
    assert await client.purge_by(only_running) == 0


async def test_purge_by_status_narrows_to_the_terminal_statuses_asked_for(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await _put_row(service, "c", S.Completed)
    await _put_row(service, "f", S.Failed)
    await _put_row(service, "r", S.Running)
    query = InstanceQuery(created_from=T0 - timedelta(seconds=1), statuses=frozenset({S.Failed, S.Running}))
    assert await client.purge_by(query) == 1
    assert sorted(s.instance_id for s in (await client.query(InstanceQuery())).states) == ["c", "r"]


# ---- terminate before start ----------------------------------------------------------------------
async def test_terminating_a_pending_instance_marks_its_row_and_sends_the_message(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await client.start("Orch", None, "never-ran")
    await client.terminate("never-ran", "changed my mind")
    state = await client.get_state("never-ran")
    assert state is not None
    assert (state.status, state.output) == (S.Terminated, "changed my mind")
    assert state.completed_time is not None
    queue = service.control_queues[partition_for("never-ran", 2)]
    bodies = [m.content for m in await queue.client.peek_messages(max_messages=32)]
    assert any("ExecutionTerminatedEvent" in body for body in bodies)
    with pytest.raises(InstanceStateError, match="only running, pending or suspended"):
        await client.terminate("never-ran", "again")
    with pytest.raises(InstanceNotFoundError):
        await client.terminate("no-such-instance", "x")


async def test_a_terminated_id_can_be_started_again(client: TaskHubClient) -> None:
    await client.start("Orch", None, "again")
    await client.terminate("again", None)
    await client.start("Orch", None, "again")
    state = await client.get_state("again")
    assert state is not None and state.status == S.Pending and state.generation == 1


async def test_pending_termination_leaves_a_started_instance_alone(
    service: AzureStorageOrchestrationService,
) -> None:
    await _put_row(service, "started", S.Running)
    assert await service.terminate_pending("started", "e-started", "x") is False
    await _put_row(service, "pending", S.Pending)
    assert await service.terminate_pending("pending", "another-execution", "x") is False
    assert await service.terminate_pending("pending", "e-pending", "x") is True


# ---- rewind --------------------------------------------------------------------------------------
def _failed_history(instance_id: str, execution_id: str, child: str | None = None) -> list[HistoryEvent]:
    events = [
        HistoryEvent(EventType.OrchestratorStarted, -1, T0),
        execution_started(
            instance_id=instance_id, execution_id=execution_id, name="Orch", input_json=None, timestamp=T0
        ),
        HistoryEvent(EventType.TaskScheduled, 0, T0, False, {"Name": "ok", "Input": "[]"}),
        HistoryEvent(EventType.TaskCompleted, -1, T0, False, {"TaskScheduledId": 0, "Result": "1"}),
        HistoryEvent(EventType.TaskScheduled, 1, T0, False, {"Name": "flaky", "Input": "[]"}),
        HistoryEvent(EventType.TaskFailed, -1, T0, False, {"TaskScheduledId": 1, "Reason": "boom"}),
    ]
    if child is not None:
        events += [
            HistoryEvent(
                EventType.SubOrchestrationInstanceCreated,
                2,
                T0,
                False,
                {"Name": "Child", "InstanceId": child},
            ),
            HistoryEvent(EventType.SubOrchestrationInstanceFailed, -1, T0, False, {"TaskScheduledId": 2}),
        ]
    failed = {"OrchestrationStatus": int(S.Failed), "Result": "boom"}
    events += [
        HistoryEvent(EventType.ExecutionCompleted, -1, T0, False, failed),
        HistoryEvent(EventType.OrchestratorCompleted, -1, T0),
    ]
    return events


async def _rows(service: AzureStorageOrchestrationService, instance_id: str) -> list[dict[str, Any]]:
    query = service.history.table.query_entities(
        "PartitionKey eq @pk", parameters={"pk": escape_key(instance_id)}
    )
    return [dict(row) async for row in query if row["RowKey"] != "sentinel"]


async def _queued(service: AzureStorageOrchestrationService, instance_id: str) -> list[dict[str, Any]]:
    queue = service.control_queues[partition_for(instance_id, 2)]
    bodies = [json.loads(m.content) for m in await queue.client.peek_messages(max_messages=32)]
    return [b for b in bodies if b["TaskMessage"]["OrchestrationInstance"]["InstanceId"] == instance_id]


async def test_rewind_turns_failures_into_generic_events_and_wakes_the_instance(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await service.history.commit("r1", "x1", 0, _failed_history("r1", "x1"), None)
    await _put_row(service, "r1", S.Failed, ExecutionId="x1")
    await client.rewind("r1", "fixed it")

    rows = await _rows(service, "r1")
    kinds = [(r["EventType"], r["EventId"], r.get("Reason")) for r in rows]
    assert kinds == [
        ("OrchestratorStarted", -1, None),
        ("ExecutionStarted", -1, None),
        ("TaskScheduled", 0, None),
        ("TaskCompleted", -1, None),
        ("GenericEvent", 1, "Rewound: TaskScheduled"),
        ("GenericEvent", -1, "Rewound: TaskFailed"),
        ("GenericEvent", -1, "Rewound: ExecutionCompleted"),
        ("OrchestratorCompleted", -1, None),
    ]
    loaded = await service.get_history("r1")
    assert len(loaded) == 8  # the rewritten rows still belong to the execution
    state = await client.get_state("r1")
    assert state is not None and state.status == S.Pending
    messages = await _queued(service, "r1")
    assert len(messages) == 1
    assert messages[0]["TaskMessage"]["Event"]["$type"] == "DurableTask.Core.History.GenericEvent"
    assert messages[0]["TaskMessage"]["Event"]["Data"] == "fixed it"


async def test_rewind_recurses_into_a_failed_sub_orchestration(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await service.history.commit("parent", "p1", 0, _failed_history("parent", "p1", child="child"), None)
    await service.history.commit("child", "c1", 0, _failed_history("child", "c1"), None)
    await _put_row(service, "parent", S.Failed, ExecutionId="p1")
    await _put_row(service, "child", S.Failed, ExecutionId="c1")
    await client.rewind("parent", "again")

    parent = {r["RowKey"]: r for r in await _rows(service, "parent")}
    created = parent[f"{6:016X}"]
    assert (created["EventType"], created["Reason"]) == (
        "SubOrchestrationInstanceCreated",
        "Rewound: SubOrchestrationInstanceCreated",
    )
    assert parent[f"{7:016X}"]["EventType"] == "GenericEvent"
    child_kinds = [r["EventType"] for r in await _rows(service, "child")]
    assert child_kinds.count("GenericEvent") == 3
    for instance_id in ("parent", "child"):
        state = await client.get_state(instance_id)
        assert state is not None and state.status == S.Pending
    assert await _queued(service, "parent") == []  # the parent waits for its child
    assert len(await _queued(service, "child")) == 1


async def test_rewind_of_a_parent_whose_child_is_gone_recreates_the_child(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await service.history.commit("orphan", "o1", 0, _failed_history("orphan", "o1", child="purged"), None)
    await _put_row(service, "orphan", S.Failed, ExecutionId="o1")
    await client.rewind("orphan", None)
    rows = {r["RowKey"]: r for r in await _rows(service, "orphan")}
    assert rows[f"{6:016X}"]["EventType"] == "GenericEvent"
    assert len(await _queued(service, "orphan")) == 1


async def test_only_failed_instances_can_be_rewound(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await _put_row(service, "fine", S.Completed)
    with pytest.raises(InstanceStateError, match="only failed instances can be rewound"):
        await client.rewind("fine", None)
    with pytest.raises(InstanceNotFoundError):
        await client.rewind("missing", None)
    assert await _queued(service, "fine") == []


async def test_restart_uses_the_original_input_and_name(
    service: AzureStorageOrchestrationService, client: TaskHubClient
) -> None:
    await _put_row(service, "orig", S.Completed)
    new_id = await client.restart("orig")
    assert new_id != "orig"
    state = await client.get_state(new_id)
    assert state is not None
    assert (state.name, state.input, state.status) == ("Orch", json.dumps({"id": "orig"}), S.Pending)
    assert await client.restart("orig", new_instance_id=False) == "orig"
    again = await client.get_state("orig")
    assert again is not None and again.status == S.Pending
    with pytest.raises(InstanceNotFoundError):
        await client.restart("nobody")
