"""Listings by created time and counts per status, read from the instance index (``instance_index``).

A page is one range query per index partition over its ``d|`` rows (newest first), ``s|<status>|``
rows (newest first, of one status) or ``a|`` rows (oldest first), with the name, status and id-prefix
filters in the query; the partitions' rows, each in key order, are merged. The keys are the same in
every partition, so a key is a position in the whole listing. Each instance found is then read from
the Instances table, which is the truth: what it shows is the row, the filters are tested on the row,
and index rows the row disagrees with (left under an old created time) are dropped from the page and
removed. The continuation token is the last index row key of the page.

Counts read the ``~t|`` count rows (a few per status and name in each partition) when the query has
no time range and no id prefix; with either, the index rows of the range are read (only their
status), never the Instances table. The text filters need each row's values, so those counts and
pages read rows.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..core.continuation import decode_token, encode_token
from ..core.history import OrchestrationStatus
from ..core.listing import matches
from ..core.queries import InstanceOrder, InstancePage, InstanceQuery
from ..core.state import OrchestrationState
from .clients import translated
from .instance_index import TOTAL_PREFIX, InstanceIndex, newest_bounds, oldest_bounds, ticks
from .instance_store import InstanceStore, state_from_row
from .names import escape_key

MAX_READS_AT_ONCE = 50
"""Instances rows read at once to check a page's candidates."""


def index_serves(index: InstanceIndex, query: InstanceQuery) -> bool:
    """Whether the index can answer ``query`` (a time order, orchestrations only, an index that lists
    the whole hub)."""
    return index.built and query.order is not InstanceOrder.ID and not query.include_entities


def counts_served(index: InstanceIndex, query: InstanceQuery) -> bool:
    return index.built and not query.include_entities and not query.text_filters


async def index_page(index: InstanceIndex, instances: InstanceStore, query: InstanceQuery) -> InstancePage:
    after = decode_token(query.continuation_token, query.order.value) if query.continuation_token else None
    found: list[tuple[str, OrchestrationState]] = []
    candidates: list[dict[str, Any]] = []
    columns = ["RowKey", "InstanceId", "CreatedTime"]
    async for row in _index_rows(index, query, columns, after, query.page_size + 1):
        candidates.append(row)
        if len(candidates) >= min(MAX_READS_AT_ONCE, query.page_size + 1 - len(found)):
            found += await _checked(index, instances, candidates, query)
            candidates = []
            if len(found) > query.page_size:
                break
    if candidates and len(found) <= query.page_size:
        found += await _checked(index, instances, candidates, query)
    page = found[: query.page_size]
    more = len(found) > query.page_size
    token = encode_token(page[-1][0], query.order.value) if more else None
    return InstancePage([state for _, state in page], token)


async def _checked(
    index: InstanceIndex, instances: InstanceStore, candidates: list[dict[str, Any]], query: InstanceQuery
) -> list[tuple[str, OrchestrationState]]:
    """The candidates whose Instances row agrees with the index and matches the query, each with its
    index row key, in the candidates' order."""
    rows = await asyncio.gather(*(instances.get_row(str(c["InstanceId"])) for c in candidates))
    kept: list[tuple[str, OrchestrationState]] = []
    for candidate, row in zip(candidates, rows, strict=True):
        instance_id, listed_at = str(candidate["InstanceId"]), candidate["CreatedTime"]
        state = state_from_row(row) if row is not None else None
        if state is None or state.created_time is None or ticks(state.created_time) != ticks(listed_at):
            index.discard_stale(instance_id, listed_at)  # purged, or created again since
            continue
        if not matches(state, query):
            continue
        kept.append((str(candidate["RowKey"]), state if query.show_input else replace(state, input=None)))
    return kept


async def index_counts(index: InstanceIndex, query: InstanceQuery) -> dict[OrchestrationStatus, int]:
    counts: dict[OrchestrationStatus, int] = {}
    if query.created_from is None and query.created_to is None and not query.instance_id_prefix:
        totals, columns = "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high", ["RowKey", "Count"]
        rows = await asyncio.gather(
            *(
                _all(
                    _query(
                        index, totals, {"pk": pk, "low": TOTAL_PREFIX, "high": TOTAL_PREFIX + "~"}, columns
                    )
                )
                for pk in index.partition_keys
            )
        )
        wanted_name = escape_key(query.name) if query.name else None
        for row in (row for partition in rows for row in partition):
            status_name, rest = str(row["RowKey"])[len(TOTAL_PREFIX) :].split("|", 1)
            name = rest.rsplit("|", 1)[0]  # a name may hold '|'; the shard after it does not
            if wanted_name is not None and name != wanted_name:
                continue
            status = OrchestrationStatus[status_name]
            counts[status] = counts.get(status, 0) + int(row.get("Count") or 0)
    else:
        async for row in _index_rows(index, query, ["RowKey", "RuntimeStatus"]):
            status = OrchestrationStatus[str(row["RuntimeStatus"])]
            counts[status] = counts.get(status, 0) + 1
    return {s: n for s, n in counts.items() if n and (not query.statuses or s in query.statuses)}


async def index_created_times(index: InstanceIndex, query: InstanceQuery) -> list[datetime]:
    """The created times of the matching instances, from the index rows of the range."""
    return [row["CreatedTime"] async for row in _index_rows(index, query, ["RowKey", "CreatedTime"])]


def _index_rows(
    index: InstanceIndex,
    query: InstanceQuery,
    columns: list[str],
    after: str | None = None,
    per_request: int = 1000,
) -> AsyncIterator[dict[str, Any]]:
    """The ``d|`` (newest first; counts too) or ``a|`` rows the query's filters leave, of every
    partition, in key order (``columns`` holds ``RowKey``)."""
    one_status = next(iter(query.statuses)).name if len(query.statuses) == 1 else None
    if query.order is InstanceOrder.OLDEST:
        low, high = oldest_bounds(query.created_from, query.created_to)
    else:  # newest first, and counts: the one status's own rows when only one is asked for
        low, high = newest_bounds(query.created_from, query.created_to, one_status)
    clauses = ["PartitionKey eq @pk", "RowKey ge @low", "RowKey lt @high"]
    params: dict[str, Any] = {"low": low, "high": high}
    if after is not None:
        clauses.append("RowKey gt @after")
        params["after"] = after
    if query.name:
        clauses.append("Name eq @name")
        params["name"] = query.name
    if query.instance_id_prefix:
        prefix = query.instance_id_prefix
        clauses.append("InstanceId ge @prefixLow and InstanceId lt @prefixHigh")
        params.update(prefixLow=prefix, prefixHigh=prefix[:-1] + chr(ord(prefix[-1]) + 1))
    if query.statuses:
        names = sorted(status.name for status in query.statuses)
        params.update({f"status{i}": name for i, name in enumerate(names)})
        clauses.append("( " + " or ".join(f"RuntimeStatus eq @status{i}" for i in range(len(names))) + " )")
    query_filter = " and ".join(clauses)
    return _merged(
        [
            _query(index, query_filter, params | {"pk": pk}, columns, per_request)
            for pk in index.partition_keys
        ]
    )


async def _merged(streams: list[AsyncIterator[dict[str, Any]]]) -> AsyncIterator[dict[str, Any]]:
    """The rows of ``streams``, each in RowKey order, in RowKey order (each stream's first request is
    sent at once)."""
    try:
        heads = await asyncio.gather(*(anext(stream, None) for stream in streams))
        heap = [(str(row["RowKey"]), i, row) for i, row in enumerate(heads) if row is not None]
        heapq.heapify(heap)
        while heap:
            _, i, row = heapq.heappop(heap)
            yield row
            following = await anext(streams[i], None)
            if following is not None:
                heapq.heappush(heap, (str(following["RowKey"]), i, following))
    finally:
        for stream in streams:
            await stream.aclose()  # type: ignore[attr-defined]


async def _all(rows: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row async for row in rows]


async def _query(
    index: InstanceIndex,
    query_filter: str,
    params: dict[str, Any],
    columns: list[str],
    per_request: int = 1000,
) -> AsyncIterator[dict[str, Any]]:
    per_page = min(per_request, 1000)
    async with translated("Querying the instance index"):
        if index.lean is not None:
            async for entity in index.lean.query(query_filter, params, columns, per_page):
                yield dict(entity)
            return
        async for entity in index.table.query_entities(
            query_filter, parameters=params, select=columns, results_per_page=per_page
        ):
            yield dict(entity)
