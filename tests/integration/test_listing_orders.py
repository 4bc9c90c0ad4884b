"""Listings newest and oldest first, counts per status and the text filters, the same on every provider."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import azure.durable_functions as df
import pytest

from durable_ext.core.client import TaskHubClient
from durable_ext.core.history import OrchestrationStatus
from durable_ext.core.listing import created_histogram
from durable_ext.core.queries import InstanceOrder, InstanceQuery
from durable_ext.errors import InvalidRequestError

from ..providers import build_service, every_provider, provider_of
from .test_engine import registry_of
from .workers import sdk_worker

S = OrchestrationStatus
app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def labelled(context: df.DurableOrchestrationContext) -> Any:
    context.set_custom_status({"stage": context.get_input()})
    yield context.wait_for_external_event("go")
    return "done"


REGISTRY = registry_of(app)


@pytest.fixture
async def client(
    request: pytest.FixtureRequest, connection_string: str, postgres_dsn: str, hub_name: str
) -> AsyncIterator[TaskHubClient]:
    """A client of a hub with no worker: instances stay Pending unless a test changes them."""
    service = build_service(provider_of(request), connection_string, hub_name, dsn=postgres_dsn)
    try:
        yield TaskHubClient(service)
    finally:
        await service.close()


@pytest.fixture
async def running(
    request: pytest.FixtureRequest, connection_string: str, postgres_dsn: str, hub_name: str
) -> AsyncIterator[TaskHubClient]:
    """A client of a hub with a worker running :func:`labelled`."""
    service = build_service(provider_of(request), connection_string, hub_name, dsn=postgres_dsn)
    async with sdk_worker(service, REGISTRY) as client:
        yield client


def _input(value: Any) -> str:
    return json.dumps(json.dumps(value))


async def _start_in_turn(client: TaskHubClient, ids: list[str], name: str = "labelled") -> None:
    """Start each instance a little after the one before, so each has a created time of its own."""
    for instance_id in ids:
        await client.start(name, _input(instance_id), instance_id)
        await asyncio.sleep(0.01)


async def _every_page(client: TaskHubClient, query: InstanceQuery) -> list[list[str]]:
    pages: list[list[str]] = []
    while True:
        page = await client.query(query)
        pages.append([s.instance_id for s in page.states])
        if page.continuation_token is None:
            return pages
        query = replace(query, continuation_token=page.continuation_token)


# ids in an order unlike their start order, so an id-ordered listing cannot pass for a time-ordered one
STARTED = ["m-3", "m-1", "m-5", "m-2", "m-4"]


@every_provider("client")
async def test_newest_first_lists_the_last_started_first_across_pages(client: TaskHubClient) -> None:
    await _start_in_turn(client, STARTED)
    pages = await _every_page(client, InstanceQuery(order=InstanceOrder.NEWEST, page_size=2))
    assert pages == [["m-4", "m-2"], ["m-5", "m-1"], ["m-3"]]
    pages = await _every_page(client, InstanceQuery(order=InstanceOrder.OLDEST, page_size=2))
    assert pages == [["m-3", "m-1"], ["m-5", "m-2"], ["m-4"]]
    assert await _every_page(client, InstanceQuery(page_size=3)) == [["m-1", "m-2", "m-3"], ["m-4", "m-5"]]


@every_provider("client")
async def test_the_time_orders_keep_the_other_filters(client: TaskHubClient) -> None:
    await _start_in_turn(client, STARTED)
    await _start_in_turn(client, ["other-1"])
    newest = await client.query(
        InstanceQuery(order=InstanceOrder.NEWEST, instance_id_prefix="m-", page_size=2)
    )
    assert [s.instance_id for s in newest.states] == ["m-4", "m-2"]
    states = (await client.query(InstanceQuery(order=InstanceOrder.NEWEST))).states
    created = [s.created_time for s in states]
    assert created == sorted(created, reverse=True) and states[0].instance_id == "other-1"
    window = InstanceQuery(created_from=created[4], created_to=created[2], order=InstanceOrder.OLDEST)
    assert [s.instance_id for s in (await client.query(window)).states] == ["m-1", "m-5", "m-2"]


@every_provider("client")
async def test_a_token_continues_only_the_order_it_was_issued_in(client: TaskHubClient) -> None:
    await _start_in_turn(client, STARTED)
    page = await client.query(InstanceQuery(order=InstanceOrder.NEWEST, page_size=2))
    assert page.continuation_token is not None
    with pytest.raises(InvalidRequestError, match="'newest' order, not 'oldest'"):
        await client.query(
            InstanceQuery(order=InstanceOrder.OLDEST, continuation_token=page.continuation_token)
        )
    by_id = await client.query(InstanceQuery(page_size=2))
    with pytest.raises(InvalidRequestError, match="'id' order, not 'newest'"):
        await client.query(
            InstanceQuery(order=InstanceOrder.NEWEST, continuation_token=by_id.continuation_token)
        )


@every_provider("client")
async def test_counts_per_status_follow_the_filters(client: TaskHubClient) -> None:
    await _start_in_turn(client, ["a-1", "a-2", "a-3"])
    await _start_in_turn(client, ["b-1"], name="other")
    await client.terminate("a-2", "not needed")
    counts = await client.count()
    assert (counts[S.Pending], counts[S.Terminated], counts[S.Running]) == (3, 1, 0)
    assert set(counts) == set(OrchestrationStatus)  # every status, zeros included
    named = await client.count(InstanceQuery(name="labelled"))
    assert (named[S.Pending], named[S.Terminated]) == (2, 1)
    assert (await client.count(InstanceQuery(instance_id_prefix="b-")))[S.Pending] == 1
    only = await client.count(InstanceQuery(statuses=frozenset({S.Terminated})))
    assert sum(only.values()) == only[S.Terminated] == 1


@every_provider("client")
async def test_input_text_matches_ignoring_case_and_hides_inputs_unless_shown(client: TaskHubClient) -> None:
    await client.start("labelled", _input({"region": "North-EU"}), "in-1")
    await client.start("labelled", _input({"region": "south-us"}), "in-2")
    found = await client.query(InstanceQuery(input_contains="north-eu", show_input=False))
    assert [(s.instance_id, s.input) for s in found.states] == [("in-1", None)]
    newest = await client.query(InstanceQuery(input_contains="REGION", order=InstanceOrder.NEWEST))
    assert [s.instance_id for s in newest.states] == ["in-2", "in-1"]
    assert all(s.input for s in newest.states)
    assert sum((await client.count(InstanceQuery(input_contains="south"))).values()) == 1


@every_provider("running")
async def test_custom_status_text_finds_instances_by_what_they_report(running: TaskHubClient) -> None:
    client = running
    for instance_id, stage in (("cs-1", "Packing"), ("cs-2", "shipping"), ("cs-3", "packing-again")):
        await client.start("labelled", _input(stage), instance_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    query = InstanceQuery(custom_status_contains="PACKING", order=InstanceOrder.NEWEST)
    while [s.instance_id for s in (await client.query(query)).states] != ["cs-3", "cs-1"]:
        assert loop.time() < deadline, "the custom statuses never showed"
        await asyncio.sleep(0.1)
    counts = await client.count(InstanceQuery(custom_status_contains="shipping"))
    assert counts[S.Running] == 1 and sum(counts.values()) == 1


@every_provider("client")
async def test_created_times_make_a_histogram_of_the_filtered_instances(client: TaskHubClient) -> None:
    await _start_in_turn(client, STARTED)
    await _start_in_turn(client, ["other-1"])
    times = await client.created_times(InstanceQuery(instance_id_prefix="m-"))
    assert len(times) == 5
    chart = created_histogram(times, None, None, 4)
    assert chart["total"] == 5 and len(chart["counts"]) == 4
    assert chart["counts"][0] >= 1 and chart["counts"][-1] >= 1  # the first and last start are the ends
    assert created_histogram([], None, None, 3) == {
        "from": None,
        "to": None,
        "bucketSeconds": 0,
        "counts": [0, 0, 0],
        "total": 0,
    }
