"""Listing entities from the Instances table: the rows whose id starts with ``@``.

An entity's row keeps its scheduler state as the input of its current execution, so every listing
reads the input (to tell existing entities from deleted ones) and shows the state only when asked.
Deleted entities are skipped unless asked for; the continuation token is the same PartitionKey cursor
as for orchestration listings.
"""

from __future__ import annotations

from typing import Any

from ..core.continuation import decode_token, encode_token
from ..core.entity_queries import EntityPage, EntityQuery, entity_status
from .clients import translated
from .instance_queries import MAX_SERVICE_PAGE, add_bounds, prefix_range
from .instance_store import InstanceStore, state_from_row


def build_entity_filter(query: EntityQuery, after: str | None) -> tuple[str, dict[str, Any]]:
    prefix = f"@{query.entity_name.lower()}@" if query.entity_name else "@"
    low, high = prefix_range(prefix)
    clauses = ["PartitionKey ge @low and PartitionKey lt @high"]
    params: dict[str, Any] = {"low": low, "high": high}
    operations = ("LastUpdatedTime", query.last_operation_from, query.last_operation_to)
    add_bounds(clauses, params, after, operations)
    return " and ".join(clauses), params


async def query_entity_page(instances: InstanceStore, query: EntityQuery) -> EntityPage:
    after = decode_token(query.continuation_token) if query.continuation_token else None
    query_filter, params = build_entity_filter(query, after)
    page = EntityPage()
    last_key: str | None = None
    async with translated("Listing entities"):
        rows = instances.table.query_entities(
            query_filter, parameters=params, results_per_page=min(query.page_size + 1, MAX_SERVICE_PAGE)
        )
        async for entity in rows:
            row = dict(entity)
            if len(page.entities) >= query.page_size:
                page.continuation_token = encode_token(str(last_key))
                break
            last_key = str(row["PartitionKey"])
            status = entity_status(
                state_from_row(await instances.fetch_large_values(row)), with_state=query.fetch_state
            )
            if status.exists or query.include_deleted:
                page.entities.append(status)
    return page
