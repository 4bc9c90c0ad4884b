"""Listing instances and entities from their statuses, as the Azure Storage provider lists them (the memory
provider lists its whole hub so; the PostgreSQL provider its entities, read in id order).

Instances are listed in the query's order (:mod:`ordering`: instance id, or created time newest or
oldest first) and entities in id order, each paging with a continuation token that holds the last key
of a page, the next page starting after it. Entities are never listed among orchestrations; deleted
entities only on request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from .continuation import decode_token, encode_token
from .entities import is_entity_instance
from .entity_queries import EntityPage, EntityQuery, entity_status
from .history import OrchestrationStatus
from .ordering import comes_after, in_order, order_key
from .queries import InstancePage, InstanceQuery
from .state import OrchestrationState


def matches(state: OrchestrationState, query: InstanceQuery) -> bool:
    if not query.include_entities and is_entity_instance(state.instance_id):
        return False
    if query.instance_id_prefix and not state.instance_id.startswith(query.instance_id_prefix):
        return False
    if query.name and state.name != query.name:
        return False
    if query.statuses and state.status not in query.statuses:
        return False
    if not matches_text(state, query):
        return False
    return _within(state.created_time, query.created_from, query.created_to)


def matches_text(state: OrchestrationState, query: InstanceQuery) -> bool:
    """The query's text filters: custom status and input contain their text, ignoring case."""
    for wanted, text in (
        (query.custom_status_contains, state.custom_status),
        (query.input_contains, state.input),
    ):
        if wanted and wanted.casefold() not in (text or "").casefold():
            return False
    return True


def matching(states: Iterable[OrchestrationState], query: InstanceQuery) -> list[OrchestrationState]:
    """Every state the query matches (its continuation token aside), in the query's order."""
    return in_order((s for s in states if matches(s, query)), query.order)


def instance_page(states: Iterable[OrchestrationState], query: InstanceQuery) -> InstancePage:
    found = matching(states, query)
    if query.continuation_token:
        cursor = decode_token(query.continuation_token, query.order.value)
        found = [s for s in found if comes_after(order_key(s, query.order), cursor, query.order)]
    page = found[: query.page_size]
    more = len(found) > query.page_size
    token = encode_token(order_key(page[-1], query.order), query.order.value) if more else None
    shown = [replace(s, input=None if not query.show_input else s.input) for s in page]
    return InstancePage(shown, token)


def count_by_status(
    states: Iterable[OrchestrationState], query: InstanceQuery
) -> dict[OrchestrationStatus, int]:
    """How many instances the query matches per runtime status (its paging and order aside)."""
    counts: dict[OrchestrationStatus, int] = {}
    for state in states:
        if matches(state, query):
            counts[state.status] = counts.get(state.status, 0) + 1
    return counts


def entity_page(states: Iterable[OrchestrationState], query: EntityQuery) -> EntityPage:
    """As ``entity_listing.query_entity_page``: a page holds ``page_size`` listed entities and the token
    continues after the last entity looked at (a deleted one that was skipped included)."""
    prefix = f"@{query.entity_name.lower()}@" if query.entity_name else "@"
    candidates = sorted(
        (
            s
            for s in states
            if s.instance_id.startswith(prefix)
            and _within(s.last_updated_time, query.last_operation_from, query.last_operation_to)
        ),
        key=lambda s: s.instance_id,
    )
    page = EntityPage()
    last_key: str | None = None
    for state in _after(candidates, query.continuation_token):
        if len(page.entities) >= query.page_size:
            page.continuation_token = encode_token(str(last_key))
            break
        last_key = state.instance_id
        status = entity_status(state, with_state=query.fetch_state)
        if status.exists or query.include_deleted:
            page.entities.append(status)
    return page


def _after(states: list[OrchestrationState], token: str | None) -> list[OrchestrationState]:
    """Entities after a page's last id (entities are listed in id order)."""
    if not token:
        return states
    cursor = decode_token(token)
    return [s for s in states if s.instance_id > cursor]


def _within(value: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    """Inclusive at both ends; a state without the time never matches a range."""
    if start is None and end is None:
        return True
    if value is None:
        return False
    return (start is None or value >= start) and (end is None or value <= end)


def created_histogram(
    times: Iterable[datetime], start: datetime | None, end: datetime | None, buckets: int
) -> dict[str, Any]:
    """How many of ``times`` fall in each of ``buckets`` equal spans from ``start`` to ``end`` (the
    earliest and latest of them when not given)."""
    found = sorted(times)
    low = start or (found[0] if found else None)
    high = end or (found[-1] if found else None)
    counts = [0] * buckets
    if low is None or high is None:
        return {"from": None, "to": None, "bucketSeconds": 0, "counts": counts, "total": 0}
    span = max((high - low).total_seconds(), 1e-6)
    for value in found:
        if low <= value <= high:
            counts[min(buckets - 1, int((value - low).total_seconds() / span * buckets))] += 1
    return {
        "from": low.isoformat(),
        "to": high.isoformat(),
        "bucketSeconds": span / buckets,
        "counts": counts,
        "total": sum(counts),
    }
