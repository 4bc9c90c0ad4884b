"""Listing instances and entities from their statuses, as the Azure Storage provider lists them (the memory
provider lists its whole hub so; the PostgreSQL provider its entities, read in id order).

Both listings go in instance id order (the order of the Instances table for every id an orchestration
may have) and page with the same continuation token: the last id of a page, the next page starting
after it. Entities are never listed among orchestrations; deleted entities only on request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from .continuation import decode_token, encode_token
from .entities import is_entity_instance
from .entity_queries import EntityPage, EntityQuery, entity_status
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
    return _within(state.created_time, query.created_from, query.created_to)


def matching(states: Iterable[OrchestrationState], query: InstanceQuery) -> list[OrchestrationState]:
    """Every state the query matches (its continuation token aside), in id order."""
    return sorted((s for s in states if matches(s, query)), key=lambda s: s.instance_id)


def instance_page(states: Iterable[OrchestrationState], query: InstanceQuery) -> InstancePage:
    found = _after(matching(states, query), query.continuation_token)
    page = found[: query.page_size]
    token = encode_token(page[-1].instance_id) if len(found) > query.page_size else None
    shown = [replace(s, input=None if not query.show_input else s.input) for s in page]
    return InstancePage(shown, token)


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
