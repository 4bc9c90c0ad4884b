"""The broker that hands the engine's work items to the workers' streams."""

from __future__ import annotations

import asyncio

import pytest

from durable_ext.sidecar.broker import UnknownCompletionToken, WorkItemAbandoned, WorkItemBroker, WorkKind
from durable_ext.sidecar.proto import pb


def _build(token: str) -> pb.WorkItem:
    return pb.WorkItem(activityRequest=pb.ActivityRequest(name="hello"), completionToken=token)


async def _next(stream_items: object) -> pb.WorkItem:
    item: pb.WorkItem = await asyncio.wait_for(stream_items.__anext__(), 2)  # type: ignore[attr-defined]
    return item


async def test_an_item_waits_for_a_worker_and_is_answered_under_its_token() -> None:
    broker = WorkItemBroker()
    submitted = asyncio.create_task(broker.submit(WorkKind.ACTIVITY, "hello", _build))
    await asyncio.sleep(0.01)
    assert not submitted.done()
    stream = broker.connect(pb.GetWorkItemsRequest())
    item = await _next(stream.items())
    broker.complete(item.completionToken, "result")
    assert await submitted == "result"
    with pytest.raises(UnknownCompletionToken):
        broker.complete(item.completionToken, "again")


async def test_what_a_dropped_stream_held_goes_to_the_next_under_a_new_token() -> None:
    broker = WorkItemBroker()
    first = broker.connect(pb.GetWorkItemsRequest())
    submitted = asyncio.create_task(broker.submit(WorkKind.ACTIVITY, "hello", _build))
    held = await _next(first.items())
    broker.disconnect(first)
    second = broker.connect(pb.GetWorkItemsRequest())
    again = await _next(second.items())
    assert again.completionToken != held.completionToken
    with pytest.raises(UnknownCompletionToken):
        broker.complete(held.completionToken, "late report from the dropped worker")
    broker.complete(again.completionToken, "done")
    assert await submitted == "done"


async def test_a_worker_gets_no_more_than_it_asked_for_and_only_what_it_filters_for() -> None:
    broker = WorkItemBroker()
    filters = pb.WorkItemFilters(activities=[pb.ActivityFilter(name="hello")])
    stream = broker.connect(pb.GetWorkItemsRequest(maxConcurrentActivityWorkItems=1, workItemFilters=filters))
    items = stream.items()
    other = asyncio.create_task(broker.submit(WorkKind.ACTIVITY, "other", _build))
    one = asyncio.create_task(broker.submit(WorkKind.ACTIVITY, "hello", _build))
    two = asyncio.create_task(broker.submit(WorkKind.ACTIVITY, "hello", _build))
    first = await _next(items)
    await asyncio.sleep(0.05)
    assert [p.name for p in stream.held.values()] == ["hello"]  # one at a time, and never "other"
    broker.abandon(first.completionToken)
    done, _ = await asyncio.wait({one, two}, timeout=2, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1
    with pytest.raises(WorkItemAbandoned):
        await done.pop()
    second = await _next(items)  # the cap has room again: the other item of this name comes
    assert second.completionToken != first.completionToken
    assert not other.done()
    for task in (one, two, other):
        task.cancel()
