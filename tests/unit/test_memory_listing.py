"""Instance and entity listings of the memory provider: the Azure Storage provider's filters, order and
continuation-token paging, over the states the hub keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from durable_ext.core.client import TaskHubClient
from durable_ext.core.continuation import encode_token
from durable_ext.core.entities import EntityId, SchedulerState
from durable_ext.core.entity_queries import EntityQuery
from durable_ext.core.history import OrchestrationStatus
from durable_ext.core.queries import CONTINUATION_HEADER, InstanceQuery
from durable_ext.core.state import OrchestrationState
from durable_ext.errors import InvalidRequestError
from durable_ext.memory.service import MemoryOrchestrationService
from durable_ext.memory.settings import MemorySettings

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
S = OrchestrationStatus


@pytest.fixture
def service() -> MemoryOrchestrationService:
    return MemoryOrchestrationService(MemorySettings(hub_name="listing"))


@pytest.fixture
def client(service: MemoryOrchestrationService) -> TaskHubClient:
    return TaskHubClient(service)


def _put(
    service: MemoryOrchestrationService,
    instance_id: str,
    status: OrchestrationStatus,
    created: datetime = T0,
    **fields: object,
) -> None:
    state = OrchestrationState(
        instance_id,
        str(fields.pop("name", "Orch")),
        status,
        execution_id="e-" + instance_id,
        input=json.dumps({"id": instance_id}),
        created_time=created,
        last_updated_time=created,
    )
    for name, value in fields.items():
        setattr(state, name, value)
    service.hub.record(instance_id).state = state


def _put_entity(
    service: MemoryOrchestrationService, entity: EntityId, state: str | None, updated: datetime
) -> None:
    scheduler = SchedulerState(exists=state is not None, state=state)
    _put(service, entity.instance_id, S.Running, updated, name=entity.name, input=scheduler.to_json())


async def _ids(client: TaskHubClient, query: InstanceQuery) -> list[str]:
    return [s.instance_id for s in (await client.query(query)).states]


async def test_filters_combine_and_entities_are_never_listed(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    _put(service, "order-1", S.Completed, T0)
    _put(service, "order-2", S.Running, T0 + timedelta(hours=1))
    _put(service, "order-3", S.Failed, T0 + timedelta(hours=2))
    _put(service, "orders", S.Completed, T0)  # "order-" is not its prefix
    _put(service, "invoice-1", S.Completed, T0 + timedelta(hours=3))
    _put(service, "@counter@k1", S.Running, T0)  # an entity
    _put(service, "Order-4", S.Completed, T0)  # ids are case-sensitive
    service.hub.record("no-status-yet")  # a child whose first episode has not run: not listed

    assert await _ids(client, InstanceQuery()) == [
        "Order-4",
        "invoice-1",
        "order-1",
        "order-2",
        "order-3",
        "orders",
    ]
    assert await _ids(client, InstanceQuery(instance_id_prefix="order-")) == ["order-1", "order-2", "order-3"]
    completed_or_failed = InstanceQuery(statuses=frozenset({S.Completed, S.Failed}))
    assert await _ids(client, completed_or_failed) == ["Order-4", "invoice-1", "order-1", "order-3", "orders"]
    window = InstanceQuery(created_from=T0 + timedelta(minutes=30), created_to=T0 + timedelta(hours=2))
    assert await _ids(client, window) == ["order-2", "order-3"]  # both ends inclusive
    combined = InstanceQuery(
        created_from=T0 + timedelta(minutes=30), statuses=frozenset({S.Failed}), instance_id_prefix="order"
    )
    assert await _ids(client, combined) == ["order-3"]
    assert await _ids(client, InstanceQuery(instance_id_prefix="nothing")) == []
    with_entities = await _ids(client, InstanceQuery(include_entities=True, instance_id_prefix="@"))
    assert with_entities == ["@counter@k1"]


async def test_name_filter_matches_the_orchestrator_name_exactly(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    _put(service, "n-1", S.Completed, name="Billing")
    _put(service, "n-2", S.Completed, name="billing")
    _put(service, "n-3", S.Running)
    assert await _ids(client, InstanceQuery(name="Billing")) == ["n-1"]


async def test_pages_continue_after_the_last_id_until_none_is_left(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    for i in range(7):
        _put(service, f"k-{i}", S.Completed)
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page = await client.query(InstanceQuery(page_size=3, continuation_token=token))
        pages.append([s.instance_id for s in page.states])
        token = page.continuation_token
        if token is None:
            break
    assert pages == [["k-0", "k-1", "k-2"], ["k-3", "k-4", "k-5"], ["k-6"]]
    exact = await client.query(InstanceQuery(page_size=7))
    assert exact.continuation_token is None  # no empty last page
    assert await _ids(client, InstanceQuery(continuation_token=encode_token("k-4"))) == ["k-5", "k-6"]


async def test_a_token_not_issued_here_is_refused_naming_the_header(client: TaskHubClient) -> None:
    with pytest.raises(InvalidRequestError, match=CONTINUATION_HEADER):
        await client.query(InstanceQuery(continuation_token="not-a-token"))


async def test_inputs_are_left_out_when_not_wanted_and_states_are_copies(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    _put(service, "in-1", S.Completed)
    [bare] = (await client.query(InstanceQuery(show_input=False))).states
    assert bare.input is None and bare.status == S.Completed
    [full] = (await client.query(InstanceQuery())).states
    full.status = S.Failed
    stored = await client.get_state("in-1")
    assert stored is not None and stored.input == '{"id": "in-1"}' and stored.status == S.Completed


async def test_purge_by_query_takes_finished_instances_only(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    for instance_id, status in [
        ("p-1", S.Completed),
        ("p-2", S.Failed),
        ("p-3", S.Running),
        ("p-4", S.Pending),
    ]:
        _put(service, instance_id, status)
    assert await client.purge_by(InstanceQuery(statuses=frozenset({S.Running}))) == 0
    assert await client.purge_by(InstanceQuery(instance_id_prefix="p-")) == 2
    assert await _ids(client, InstanceQuery()) == ["p-3", "p-4"]
    assert await client.purge("p-3") == 1
    assert await client.purge("p-3") == 0


async def test_entity_listing_skips_deleted_entities_unless_asked(
    service: MemoryOrchestrationService, client: TaskHubClient
) -> None:
    a, b, c = (EntityId.of("Counter", k) for k in "abc")
    _put_entity(service, a, "1", T0)
    _put_entity(service, b, None, T0 + timedelta(hours=1))  # deleted
    _put_entity(service, c, "3", T0 + timedelta(hours=2))
    _put_entity(service, EntityId.of("other", "x"), "9", T0)
    _put(service, "orchestration", S.Running)

    page = await client.query_entities(EntityQuery(entity_name="COUNTER"))
    assert [(s.entity_id, s.exists, s.state) for s in page.entities] == [(a, True, None), (c, True, None)]
    fetched = await client.query_entities(
        EntityQuery(entity_name="counter", fetch_state=True, include_deleted=True)
    )
    assert [(s.entity_id.key, s.state) for s in fetched.entities] == [("a", "1"), ("b", None), ("c", "3")]
    recent = EntityQuery(last_operation_from=T0 + timedelta(minutes=30), include_deleted=True)
    assert [s.entity_id.key for s in (await client.query_entities(recent)).entities] == ["b", "c"]

    first = await client.query_entities(EntityQuery(entity_name="counter", page_size=1))
    assert [s.entity_id for s in first.entities] == [a]
    second = await client.query_entities(
        EntityQuery(entity_name="counter", page_size=1, continuation_token=first.continuation_token)
    )
    assert [s.entity_id for s in second.entities] == [c]  # the deleted one between is passed over
    assert second.continuation_token is None
