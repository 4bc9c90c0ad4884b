"""Handlers over many instances: ``GET /instances`` (filters and paging), ``GET /counts`` (how many per
status) and ``DELETE /instances``.

Beside the reference's parameters, ``GET /instances`` takes durable-ext's own: ``order`` (``id``, the
default and the reference's; ``newest`` or ``oldest``, by created time), ``customStatusContains`` and
``inputContains`` (text the custom status or the input holds, ignoring case).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from aiohttp import web

from ..core.clock import utc_now
from ..core.history import TERMINAL_STATUSES
from ..core.listing import created_histogram
from ..core.queries import (
    CONTINUATION_HEADER,
    DEFAULT_PAGE_SIZE,
    InstanceOrder,
    InstanceQuery,
    purgeable_statuses,
)
from ..core.timefmt import format_dotnet
from .http_common import (
    ApiHandlers,
    Params,
    api_errors,
    blame,
    date_time,
    flag,
    page_size,
    query_params,
    statuses,
)
from .request_limits import MAX_INSTANCE_ID_LOOKUP_LENGTH, RequestRejected, check_length
from .status_payload import status_payload

DEFAULT_BUCKETS = 24
MAX_BUCKETS = 200


def _created_range(request: Params) -> tuple[datetime | None, datetime | None]:
    created_from = date_time(request, "createdTimeFrom")
    created_to = date_time(request, "createdTimeTo")
    if created_from and created_to and created_to < created_from:
        raise RequestRejected(
            f"The query parameter 'createdTimeTo' ({created_to.isoformat()}) is before 'createdTimeFrom' "
            f"({created_from.isoformat()}).",
            parameter="createdTimeTo",
        )
    return created_from, created_to


def _optional_text(request: Params, name: str) -> str | None:
    """A query parameter that filters by an instance id or a name: at most as long as an id can be."""
    value = query_params(request).get(name) or None
    return None if value is None else check_length(value, MAX_INSTANCE_ID_LOOKUP_LENGTH, name, "filter")


def _order(request: web.Request) -> InstanceOrder:
    value = request.query.get("order")
    if not value:
        return InstanceOrder.ID
    try:
        return InstanceOrder.parse(value)
    except ValueError as exc:
        raise RequestRejected(f"The query parameter {exc}", parameter="order") from None


def filter_query(request: Params) -> InstanceQuery:
    """The filters ``GET /instances``, ``GET /counts`` and ``POST /jobs`` share (also parsed from the
    CLI's ``--query``)."""
    created_from, created_to = _created_range(request)
    return InstanceQuery(
        created_from=created_from,
        created_to=created_to,
        statuses=statuses(request),
        instance_id_prefix=_optional_text(request, "instanceIdPrefix"),
        name=_optional_text(request, "name"),
        custom_status_contains=_optional_text(request, "customStatusContains"),
        input_contains=_optional_text(request, "inputContains"),
    )


def list_query(request: web.Request) -> InstanceQuery:
    return replace(
        filter_query(request),
        show_input=flag(request, "showInput", True),
        page_size=page_size(request, DEFAULT_PAGE_SIZE),
        continuation_token=request.headers.get(CONTINUATION_HEADER) or None,
        include_entities=flag(request, "includeEntities", False),
        order=_order(request),
    )


def purge_query(request: web.Request) -> InstanceQuery:
    created_from, created_to = _created_range(request)
    if created_from is None:
        raise RequestRejected(
            "The query parameter 'createdTimeFrom' is required to purge instances by time range, e.g. "
            "createdTimeFrom=2024-01-01T00:00:00Z.",
            parameter="createdTimeFrom",
        )
    requested = statuses(request)
    if requested and not purgeable_statuses(requested):
        allowed = ", ".join(sorted(s.name for s in TERMINAL_STATUSES))
        raise RequestRejected(
            f"The query parameter 'runtimeStatus' names no status that can be purged; only finished "
            f"instances are purged: {allowed}.",
            parameter="runtimeStatus",
        )
    return InstanceQuery(
        created_from=created_from,
        created_to=created_to or utc_now(),
        statuses=requested,
        show_input=False,
    )


class QueryHandlers(ApiHandlers):
    @api_errors
    async def functions(self, request: web.Request) -> web.Response:
        """``GET /functions``: the app's durable functions by kind (durable-ext's route, for the
        monitor's function graph)."""
        registry = self.extension.functions
        body = {
            kind: sorted(name for name, _ in table.values())
            for kind, table in (
                ("orchestrators", registry.orchestrators),
                ("activities", registry.activities),
                ("entities", registry.entities),
            )
        }
        return web.json_response(body)

    @api_errors
    async def metrics(self, request: web.Request) -> web.Response:
        """``GET /metrics``: this process's storage operations, history cache and local hand-overs."""
        return web.json_response(self.extension.service.metrics())

    @api_errors
    async def list_poison(self, request: web.Request) -> web.Response:
        """``GET /poison[?instanceId=...]``: messages moved aside, newest first (durable-ext's route)."""
        messages = await self.client(request).poison_messages(_optional_text(request, "instanceId"))
        messages.sort(key=lambda m: m.moved_on.isoformat() if m.moved_on else "", reverse=True)
        body = [
            {
                "instanceId": m.instance_id,
                "queue": m.queue,
                "messageId": m.message_id,
                "reason": m.reason,
                "dequeueCount": m.dequeue_count,
                "movedOn": format_dotnet(m.moved_on) if m.moved_on else None,
                "body": m.body,
            }
            for m in messages
        ]
        return web.json_response(body)

    @api_errors
    async def list_instances(self, request: web.Request) -> web.Response:
        query = list_query(request)
        client = self.client(request)
        with blame(CONTINUATION_HEADER):  # the provider reads the token
            page = await client.query(query)
        body = [status_payload(state, show_input=query.show_input) for state in page.states]
        headers = {CONTINUATION_HEADER: page.continuation_token} if page.continuation_token else {}
        return web.json_response(body, headers=headers)

    @api_errors
    async def count_instances(self, request: web.Request) -> web.Response:
        """``GET /counts``: how many instances match per runtime status (durable-ext's route)."""
        counts = await self.client(request).count(filter_query(request))
        body: dict[str, int] = {status.name: n for status, n in counts.items()}
        body["total"] = sum(counts.values())
        return web.json_response(body)

    @api_errors
    async def histogram(self, request: web.Request) -> web.Response:
        """``GET /histogram``: how many instances were created in each of ``buckets`` equal spans of the
        filters' time range (durable-ext's route, for the monitor's chart)."""
        query = filter_query(request)
        buckets = page_size(request, DEFAULT_BUCKETS, "buckets")
        if buckets > MAX_BUCKETS:
            raise RequestRejected(
                f"The query parameter 'buckets' is at most {MAX_BUCKETS}, not {buckets}.",
                parameter="buckets",
                limit=MAX_BUCKETS,
            )
        times = await self.client(request).created_times(query)
        return web.json_response(created_histogram(times, query.created_from, query.created_to, buckets))

    @api_errors
    async def purge_instances(self, request: web.Request) -> web.Response:
        query = purge_query(request)
        deleted = await self.client(request).purge_by(query)
        if deleted == 0:
            raise RequestRejected(
                f"No finished instance created from {query.created_from} to {query.created_to} matched "
                "the purge filter (createdTimeFrom, createdTimeTo, runtimeStatus).",
                parameter="createdTimeFrom",
                status=404,
            )
        return web.json_response({"instancesDeleted": deleted})
