"""What every handler of the HTTP management API shares: parameters, error responses, links."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from ..core.client import TaskHubClient
from ..core.history import OrchestrationStatus
from ..core.timefmt import parse_datetime
from ..errors import (
    InstanceAlreadyExistsError,
    InstanceNotFoundError,
    InstanceStateError,
    InvalidRequestError,
    UnknownEntityError,
)
from .extension import DurableTaskExtension
from .status_payload import error_body, management_links, status_payload

WEBHOOK_BASE = "/runtime/webhooks/durabletask"
RPC_BASE = "/durabletask"
# The SDK's client sends no hub with most calls, so a binding that names another task hub gets an RPC
# base URL that carries it in the path.
SCOPED_RPC_BASE = RPC_BASE + "/taskHubs/{taskHub}/connections/{connection}"
NO_CONNECTION = "-"


# ---- responses --------------------------------------------------------------------------------
def error_response(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=error_body(message), content_type="application/json")


def bad_request(message: str) -> web.Response:
    return error_response(400, message)


_STATUS_BY_ERROR: list[tuple[type[Exception], int]] = [
    (InvalidRequestError, 400),
    (InstanceNotFoundError, 404),
    (UnknownEntityError, 404),
    (InstanceAlreadyExistsError, 409),
    (InstanceStateError, 410),
]
Handler = Callable[[Any, web.Request], Awaitable[web.StreamResponse]]


def api_errors(handler: Handler) -> Handler:
    """Turn the errors a caller can cause into their status codes, with a body naming what to fix."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: web.Request) -> web.StreamResponse:
        try:
            return await handler(self, request)
        except tuple(kind for kind, _ in _STATUS_BY_ERROR) as exc:
            status = next(code for kind, code in _STATUS_BY_ERROR if isinstance(exc, kind))
            return error_response(status, str(exc))

    return wrapper


# ---- parameters -------------------------------------------------------------------------------
def hub_of(request: web.Request) -> str | None:
    return request.match_info.get("taskHub") or request.query.get("taskHub")


def connection_of(request: web.Request) -> str | None:
    scoped = request.match_info.get("connection")
    if scoped:
        return None if scoped == NO_CONNECTION else scoped
    return request.query.get("connection") or request.query.get("connectionName")


def flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise InvalidRequestError(f"The query parameter '{name}' must be true or false, not '{value}'.")
    return value.lower() == "true"


def seconds(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if value is None:
        return None
    try:
        result = float(value)
    except ValueError:
        message = f"The query parameter '{name}' must be a number of seconds, not '{value}'."
        raise InvalidRequestError(message) from None
    if result < 0:
        raise InvalidRequestError(f"The query parameter '{name}' must not be negative.")
    return result


def positive_int(request: web.Request, name: str, default: int) -> int:
    value = request.query.get(name)
    if value is None:
        return default
    try:
        result = int(value)
    except ValueError:
        result = 0
    if result < 1:
        raise InvalidRequestError(f"The query parameter '{name}' must be a positive integer, not '{value}'.")
    return result


def date_time(request: web.Request, name: str) -> datetime | None:
    value = request.query.get(name)
    if value is None or not value.strip():
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        raise InvalidRequestError(
            f"The query parameter '{name}' must be an ISO 8601 date-time such as "
            f"2024-01-31T00:00:00Z, not '{value}'."
        ) from None


def statuses(request: web.Request, name: str = "runtimeStatus") -> frozenset[OrchestrationStatus]:
    """A comma-separated list of runtime status names (case-insensitive)."""
    by_name = {status.name.lower(): status for status in OrchestrationStatus}
    found: set[OrchestrationStatus] = set()
    for raw in request.query.getall(name, []):
        for part in raw.split(","):
            if not part.strip():
                continue
            status = by_name.get(part.strip().lower())
            if status is None:
                allowed = ", ".join(s.name for s in OrchestrationStatus)
                raise InvalidRequestError(
                    f"The query parameter '{name}' has the unknown status '{part.strip()}'; use a "
                    f"comma-separated list of: {allowed}."
                )
            found.add(status)
    return frozenset(found)


@dataclass(frozen=True)
class WaitOptions:
    """``timeout`` and ``pollingInterval`` of a start or restart that waits for the result."""

    timeout_s: float | None
    interval_s: float

    @classmethod
    def of(cls, request: web.Request) -> WaitOptions:
        return cls(seconds(request, "timeout"), seconds(request, "pollingInterval") or 1.0)


async def json_body_text(request: web.Request, what: str) -> str | None:
    """The request body as compact JSON text, ``None`` when empty; a 400 if it is not JSON."""
    raw = await request.text()
    if not raw.strip():
        return None
    try:
        return json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)
    except ValueError as exc:
        raise InvalidRequestError(f"The {what} in the request body is not valid JSON: {exc}.") from exc


def link_query(hub_name: str, connection_name: str | None, system_key: str | None) -> dict[str, str]:
    """The query every management link carries: the hub, the connection and, when keys are on, the key."""
    query = {"taskHub": hub_name, "connection": connection_name or "Storage"}
    if system_key:
        query["code"] = system_key
    return query


# ---- shared handler behaviour -----------------------------------------------------------------
class ApiHandlers:
    """Base of the handler groups: the client a request addresses and the check-status response."""

    def __init__(self, extension: DurableTaskExtension) -> None:
        self.extension = extension

    def client(self, request: web.Request) -> TaskHubClient:
        return self.extension.client_for(hub_of(request), connection_of(request))

    def links(self, request: web.Request, instance_id: str) -> dict[str, str]:
        base = f"{request.scheme}://{request.host}{WEBHOOK_BASE}"
        query = link_query(
            hub_of(request) or self.extension.hub_name, connection_of(request), self.extension.system_key
        )
        return management_links(base, instance_id, query)

    def accepted(self, request: web.Request, instance_id: str) -> web.Response:
        links = self.links(request, instance_id)
        headers = {"Location": links["statusQueryGetUri"], "Retry-After": "10"}
        return web.json_response(links, status=202, headers=headers)

    async def wait_or_accept(
        self, request: web.Request, client: TaskHubClient, instance_id: str, wait: WaitOptions
    ) -> web.Response:
        """With a ``timeout`` parameter, wait for the result that long; else (or then) the 202 links."""
        if wait.timeout_s is None:
            return self.accepted(request, instance_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait.timeout_s
        while loop.time() < deadline:
            state = await client.get_state(instance_id)
            if state is not None and state.status == OrchestrationStatus.Completed:
                return web.Response(status=200, text=state.output or "null", content_type="application/json")
            if state is not None and state.status.is_terminal:
                code = 500 if state.status == OrchestrationStatus.Failed else 200
                return web.json_response(status_payload(state), status=code)
            await asyncio.sleep(min(wait.interval_s, max(0.0, deadline - loop.time())))
        return self.accepted(request, instance_id)
