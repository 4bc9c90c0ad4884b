"""Handlers for entities: signal (``POST``/``DELETE``), read (``GET`` one) and list (``GET`` many).

A signal may carry ``scheduledTime`` (ISO 8601, UTC): the operation then runs at that time, as the
reference's scheduled signals do; this parameter is durable-ext's, the reference's route has none.

A signal's body becomes the operation's input so that the entity's ``get_input()`` returns what was
sent: the SDK client's double-encoded JSON, a plain JSON body of any type, or any other content as a
string. The reference only understands the first of these; accepting the rest changes nothing for
apps that use the SDK client.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..core.entities import EntityId
from ..core.entity_queries import EntityQuery
from ..core.queries import CONTINUATION_HEADER, DEFAULT_PAGE_SIZE
from ..core.timefmt import format_dotnet
from ..errors import UnknownEntityError
from .http_common import ApiHandlers, api_errors, blame, date_time, flag, hub_of, page_size
from .request_limits import (
    MAX_ENTITY_ID_LENGTH,
    MAX_NAME_LENGTH,
    RequestRejected,
    body_text,
    check_entity_key,
    check_length,
    compact_json,
    parse_json,
)

JSON_CONTENT_TYPE = "application/json"


def operation_input(body: str, content_type: str) -> str | None:
    """The stored input of a signal: the JSON text of the JSON text of the value sent."""
    if not body.strip():
        return None
    value = parse_json(body, "operation input") if content_type == JSON_CONTENT_TYPE else body
    # a string that is itself JSON is already the JSON of the value (the SDK client sends it so)
    already = isinstance(value, str) and _is_json(value)
    text = value if already else compact_json(value, "operation input")
    return compact_json(text, "operation input")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


class EntityHandlers(ApiHandlers):
    def _entity(self, request: web.Request) -> EntityId:
        name = check_length(
            request.match_info["entityName"], MAX_ENTITY_ID_LENGTH, "entityName", "entity name"
        )
        key = request.match_info["entityKey"]
        with blame("entityName"):
            entity = EntityId.of(name, key)
        check_entity_key(entity.name, key)
        return entity

    def _check_defined(self, request: web.Request, entity: EntityId) -> None:
        own_hub = self.extension.is_own_hub(hub_of(request))
        if own_hub and not self.extension.functions.has_entity(entity.name):
            raise UnknownEntityError(entity.name)

    @api_errors
    async def signal(self, request: web.Request) -> web.Response:
        entity = self._entity(request)
        if request.method == "DELETE":
            operation = "delete"
        else:
            operation = request.query.get("op", "")
            if not operation:
                raise RequestRejected(
                    "The query parameter 'op' (the name of the operation to signal) is required, "
                    f"e.g. POST .../entities/{entity.name}/{entity.key}?op=add.",
                    parameter="op",
                )
            check_length(operation, MAX_NAME_LENGTH, "op", "operation name")
        self._check_defined(request, entity)
        scheduled_time = date_time(request, "scheduledTime")
        client = self.client(request)
        input_json = operation_input(await body_text(request), request.content_type)
        await client.signal_entity(entity, operation, input_json, scheduled_time=scheduled_time)
        return web.Response(status=202)

    @api_errors
    async def read(self, request: web.Request) -> web.Response:
        entity = self._entity(request)
        status = await self.client(request).read_entity(entity)
        if status is None or not status.exists:
            raise RequestRejected(
                f"The entity '{entity.name}' has no state for the key '{entity.key}': it was never "
                "signalled, or it was deleted.",
                parameter="entityKey",
                status=404,
            )
        return web.Response(status=200, text=status.state or "null", content_type=JSON_CONTENT_TYPE)

    @api_errors
    async def list(self, request: web.Request) -> web.Response:
        name = request.match_info.get("entityName") or None
        if name is not None:
            check_length(name, MAX_ENTITY_ID_LENGTH, "entityName", "entity name")
            with blame("entityName"):
                EntityId.of(name, "-")  # validates the name
        query = EntityQuery(
            entity_name=name,
            last_operation_from=date_time(request, "lastOperationTimeFrom"),
            last_operation_to=date_time(request, "lastOperationTimeTo"),
            fetch_state=flag(request, "fetchState", False),
            include_deleted=flag(request, "includeDeleted", False),
            page_size=page_size(request, DEFAULT_PAGE_SIZE),
            continuation_token=request.headers.get(CONTINUATION_HEADER) or None,
        )
        client = self.client(request)
        with blame(CONTINUATION_HEADER):  # the provider reads the token
            page = await client.query_entities(query)
        body: list[dict[str, Any]] = []
        for status in page.entities:
            item: dict[str, Any] = {
                "entityId": {"key": status.entity_id.key, "name": status.entity_id.name},
                "lastOperationTime": format_dotnet(status.last_operation_time)
                if status.last_operation_time
                else None,
            }
            if query.fetch_state:
                item["state"] = json.loads(status.state) if status.state is not None else None
            body.append(item)
        headers = {CONTINUATION_HEADER: page.continuation_token} if page.continuation_token else {}
        return web.json_response(body, headers=headers)
