"""Queries over the Instances table: filters as OData, pages, and our opaque continuation token.

The Instances table has one row per instance (``RowKey`` is empty) and the service returns rows in
PartitionKey order, so the last PartitionKey of a page is an exact cursor: the next page is the same
query with ``PartitionKey gt <cursor>``. The token handed to clients is that cursor, base64-encoded
(:mod:`durable_ext.core.continuation`).

The table has no other order and OData no text search, so what it cannot do is done here over the rows
its filter returns, as the reference's tools do: the text filters test each row read, and the time
orders and the counts per status read every row the other filters leave.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.data.tables.aio import TableClient

from ..core.continuation import decode_token, encode_token
from ..core.history import OrchestrationStatus
from ..core.listing import count_by_status, instance_page, matches_text
from ..core.queries import InstanceOrder, InstancePage, InstanceQuery
from .clients import translated
from .instance_store import state_from_row
from .names import escape_key

MAX_SERVICE_PAGE = 1000  # the Table service returns at most this many entities per request
# Every Instances column but Input: what a query reads when inputs are not wanted.
_COLUMNS_WITHOUT_INPUT = [
    "PartitionKey",
    "RowKey",
    "Name",
    "Version",
    "ExecutionId",
    "RuntimeStatus",
    "CreatedTime",
    "LastUpdatedTime",
    "CompletedTime",
    "Output",
    "CustomStatus",
    "ScheduledStartTime",
    "Generation",
    "Tags",
    "TaskHubName",
]


def prefix_range(prefix: str) -> tuple[str, str]:
    """The PartitionKey range ``[low, high)`` of every instance id that starts with ``prefix``."""
    low = escape_key(prefix)
    return low, low[:-1] + chr(ord(low[-1]) + 1)


def add_bounds(
    clauses: list[str],
    params: dict[str, Any],
    after: str | None,
    time_range: tuple[str, datetime | None, datetime | None],
) -> None:
    """The clauses every listing shares: the page cursor, and a time column's inclusive range."""
    column, start, end = time_range
    for name, value, clause in (
        ("after", after, "PartitionKey gt @after"),
        ("rangeStart", start, f"{column} ge @rangeStart"),
        ("rangeEnd", end, f"{column} le @rangeEnd"),
    ):
        if value is not None:
            params[name] = value
            clauses.append(clause)


def build_filter(query: InstanceQuery, after: str | None = None) -> tuple[str, dict[str, Any]]:
    """The OData filter and its parameters (``@name`` words, space-separated as the SDK requires)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if not query.include_entities:
        clauses.append("( PartitionKey lt @entityStart or PartitionKey ge @entityEnd )")
        params.update(entityStart="@", entityEnd="A")
    if query.instance_id_prefix:
        params["prefixLow"], params["prefixHigh"] = prefix_range(query.instance_id_prefix)
        clauses.append("PartitionKey ge @prefixLow and PartitionKey lt @prefixHigh")
    if query.name:
        params["name"] = query.name
        clauses.append("Name eq @name")
    add_bounds(clauses, params, after, ("CreatedTime", query.created_from, query.created_to))
    if query.statuses:
        names = sorted(status.name for status in query.statuses)
        params.update({f"status{i}": name for i, name in enumerate(names)})
        alternatives = " or ".join(f"RuntimeStatus eq @status{i}" for i in range(len(names)))
        clauses.append(f"( {alternatives} )")
    return " and ".join(clauses) or "RowKey eq ''", params


async def query_page(table: TableClient, query: InstanceQuery) -> InstancePage:
    """One page of matching instances, and a token when more remain."""
    if query.order is not InstanceOrder.ID:
        return instance_page([state_from_row(row) async for row in _rows(table, query)], query)
    return await _page_in_id_order(table, query)


async def count_rows(table: TableClient, query: InstanceQuery) -> dict[OrchestrationStatus, int]:
    """How many instances match per status, from every row the filter returns (its status column and
    what the text filters test)."""
    columns = ["PartitionKey", "RowKey", "RuntimeStatus", "Name", "CreatedTime"]
    columns += ["CustomStatus"] * bool(query.custom_status_contains) + ["Input"] * bool(query.input_contains)
    return count_by_status([state_from_row(row) async for row in _rows(table, query, columns)], query)


async def created_times_of_rows(table: TableClient, query: InstanceQuery) -> list[datetime]:
    """The created times of the matching instances, from every row the filter returns."""
    columns = ["PartitionKey", "RowKey", "CreatedTime"]
    columns += ["CustomStatus"] * bool(query.custom_status_contains) + ["Input"] * bool(query.input_contains)
    states = [state_from_row(row) async for row in _rows(table, query, columns)]
    return [s.created_time for s in states if s.created_time is not None and matches_text(s, query)]


async def _page_in_id_order(table: TableClient, query: InstanceQuery) -> InstancePage:
    """Reads one match past the page to know whether another page exists, so the last page has no token."""
    after = decode_token(query.continuation_token) if query.continuation_token else None
    states = []
    async for row in _rows(table, query, after=after, page_hint=query.page_size + 1):
        state = state_from_row(row)
        if matches_text(state, query):
            states.append(state)
            if len(states) > query.page_size:
                break
    more = len(states) > query.page_size
    states = states[: query.page_size]
    if query.input_contains and not query.show_input:
        states = [replace(s, input=None) for s in states]
    token = encode_token(states[-1].instance_id) if more else None
    return InstancePage(states, token)


async def _rows(
    table: TableClient,
    query: InstanceQuery,
    columns: list[str] | None = None,
    *,
    after: str | None = None,
    page_hint: int = MAX_SERVICE_PAGE,
) -> AsyncIterator[dict[str, Any]]:
    """The rows the query's OData filter returns, in PartitionKey order (``columns``: the default is
    every column but ``Input`` unless the query shows or searches inputs)."""
    query_filter, params = build_filter(query, after)
    if columns is None and not (query.show_input or query.input_contains):
        columns = _COLUMNS_WITHOUT_INPUT
    async with translated("Querying the Instances table"):
        entities = table.query_entities(
            query_filter, parameters=params, select=columns, results_per_page=min(page_hint, MAX_SERVICE_PAGE)
        )
        async for entity in entities:
            yield dict(entity)
