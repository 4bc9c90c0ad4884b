"""Handlers over many instances: ``GET /instances`` (filters and paging) and ``DELETE /instances``."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from ..azurestorage.instance_queries import CONTINUATION_HEADER
from ..core.history import TERMINAL_STATUSES
from ..core.queries import DEFAULT_PAGE_SIZE, InstanceQuery, purgeable_statuses
from ..core.timefmt import format_dotnet
from ..errors import InvalidRequestError
from .http_common import ApiHandlers, api_errors, date_time, error_response, flag, positive_int, statuses
from .status_payload import status_payload


def _created_range(request: web.Request) -> tuple[datetime | None, datetime | None]:
    created_from = date_time(request, "createdTimeFrom")
    created_to = date_time(request, "createdTimeTo")
    if created_from and created_to and created_to < created_from:
        raise InvalidRequestError(
            f"The query parameter 'createdTimeTo' ({created_to.isoformat()}) is before 'createdTimeFrom' "
            f"({created_from.isoformat()})."
        )
    return created_from, created_to


def list_query(request: web.Request) -> InstanceQuery:
    created_from, created_to = _created_range(request)
    token = request.headers.get(CONTINUATION_HEADER) or None
    return InstanceQuery(
        created_from=created_from,
        created_to=created_to,
        statuses=statuses(request),
        instance_id_prefix=request.query.get("instanceIdPrefix") or None,
        name=request.query.get("name") or None,
        show_input=flag(request, "showInput", True),
        page_size=positive_int(request, "top", DEFAULT_PAGE_SIZE),
        continuation_token=token,
        include_entities=flag(request, "includeEntities", False),
    )


def purge_query(request: web.Request) -> InstanceQuery:
    created_from, created_to = _created_range(request)
    if created_from is None:
        raise InvalidRequestError(
            "The query parameter 'createdTimeFrom' is required to purge instances by time range, e.g. "
            "createdTimeFrom=2024-01-01T00:00:00Z."
        )
    requested = statuses(request)
    if requested and not purgeable_statuses(requested):
        allowed = ", ".join(sorted(s.name for s in TERMINAL_STATUSES))
        raise InvalidRequestError(
            f"The query parameter 'runtimeStatus' names no status that can be purged; only finished "
            f"instances are purged: {allowed}."
        )
    return InstanceQuery(
        created_from=created_from,
        created_to=created_to or datetime.now(UTC),
        statuses=requested,
        show_input=False,
    )


class QueryHandlers(ApiHandlers):
    @api_errors
    async def metrics(self, request: web.Request) -> web.Response:
        """``GET /metrics``: this process's storage operations, history cache and local hand-overs."""
        return web.json_response(self.extension.service.metrics())

    @api_errors
    async def list_poison(self, request: web.Request) -> web.Response:
        """``GET /poison[?instanceId=...]``: messages moved aside, newest first (durable-ext's route)."""
        messages = await self.client(request).poison_messages(request.query.get("instanceId") or None)
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
        page = await self.client(request).query(query)
        body = [status_payload(state, show_input=query.show_input) for state in page.states]
        headers = {CONTINUATION_HEADER: page.continuation_token} if page.continuation_token else {}
        return web.json_response(body, headers=headers)

    @api_errors
    async def purge_instances(self, request: web.Request) -> web.Response:
        deleted = await self.client(request).purge_by(purge_query(request))
        if deleted == 0:
            return error_response(404, "No finished instance matched the purge filter.")
        return web.json_response({"instancesDeleted": deleted})
