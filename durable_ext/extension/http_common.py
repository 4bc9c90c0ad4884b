"""What every handler of the HTTP management API shares: parameters, error responses, links."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from ..core.client import TaskHubClient
from ..core.history import OrchestrationStatus
from ..core.timefmt import parse_datetime
from ..errors import (
    ConfigurationError,
    InstanceAlreadyExistsError,
    InstanceNotFoundError,
    InstanceStateError,
    InvalidRequestError,
    UnknownEntityError,
)
from .extension import DurableTaskExtension
from .options import validate_hub_name
from .request_limits import (
    MAX_INSTANCE_ID_LOOKUP_LENGTH,
    RequestRejected,
    body_text,
    check_length,
    check_page_size,
    check_query_lengths,
    check_seconds,
    compact_json,
    parse_json,
)
from .status_payload import error_body, management_links, status_payload

WEBHOOK_BASE = "/runtime/webhooks/durabletask"
RPC_BASE = "/durabletask"
# The SDK's client sends no hub with most calls, so a binding that names another task hub gets an RPC
# base URL that carries it in the path.
SCOPED_RPC_BASE = RPC_BASE + "/taskHubs/{taskHub}/connections/{connection}"
NO_CONNECTION = "-"


# ---- responses --------------------------------------------------------------------------------
def error_response(
    status: int, message: str, parameter: str | None = None, limit: int | None = None
) -> web.Response:
    body = error_body(message, parameter=parameter, limit=limit)
    return web.Response(status=status, text=body, content_type="application/json")


_STATUS_BY_ERROR: list[tuple[type[Exception], int, str | None]] = [
    (InvalidRequestError, 400, None),  # a RequestRejected names its own status and parameter
    (InstanceNotFoundError, 404, "instanceId"),
    (UnknownEntityError, 404, "entityName"),
    (InstanceAlreadyExistsError, 409, "instanceId"),
    (InstanceStateError, 410, "instanceId"),
]
"""Each error a caller can cause: its status and the parameter it is about unless the error names one."""
Handler = Callable[[Any, web.Request], Awaitable[web.StreamResponse]]


def api_errors(handler: Handler) -> Handler:
    """Turn the errors a caller can cause into their status codes, with a body naming what to fix."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: web.Request) -> web.StreamResponse:
        try:
            check_query_lengths(request)
            return await handler(self, request)
        except tuple(kind for kind, _, _ in _STATUS_BY_ERROR) as exc:
            if isinstance(exc, RequestRejected):
                return error_response(exc.status, str(exc), exc.parameter, exc.limit)
            status, parameter = next((code, p) for kind, code, p in _STATUS_BY_ERROR if isinstance(exc, kind))
            return error_response(status, str(exc), parameter)

    return wrapper


@contextmanager
def blame(parameter: str) -> Iterator[None]:
    """A 400 raised inside names ``parameter`` (unless it already names one)."""
    try:
        yield
    except RequestRejected:
        raise
    except InvalidRequestError as exc:
        raise RequestRejected(str(exc), parameter=parameter) from exc


# ---- parameters -------------------------------------------------------------------------------
def hub_of(request: web.Request) -> str | None:
    return request.match_info.get("taskHub") or request.query.get("taskHub")


def connection_of(request: web.Request) -> str | None:
    scoped = request.match_info.get("connection")
    if scoped:
        return None if scoped == NO_CONNECTION else scoped
    return request.query.get("connection") or request.query.get("connectionName")


def instance_id_of(request: web.Request) -> str:
    """The ``instanceId`` path parameter of a route that addresses an existing instance."""
    value: str = request.match_info["instanceId"]
    return check_length(value, MAX_INSTANCE_ID_LOOKUP_LENGTH, "instanceId", "instance ID")


def flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise RequestRejected(
            f"The query parameter '{name}' must be true or false, not '{value}'.", parameter=name
        )
    return value.lower() == "true"


def seconds(request: web.Request, name: str) -> float | None:
    return check_seconds(request.query.get(name), name)


def page_size(request: web.Request, default: int, name: str = "top") -> int:
    return check_page_size(request.query.get(name), default, name)


Params = web.Request | MultiMapping[str]
"""Where query parameters come from: a request, or a query string parsed elsewhere (the CLI's --query)."""


def query_params(source: Params) -> MultiMapping[str]:
    return source.query if isinstance(source, web.Request) else source


def date_time(source: Params, name: str) -> datetime | None:
    value = query_params(source).get(name)
    if value is None or not value.strip():
        return None
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError):
        raise RequestRejected(
            f"The query parameter '{name}' must be an ISO 8601 date-time such as "
            f"2024-01-31T00:00:00Z, not '{value}'.",
            parameter=name,
        ) from None


def statuses(source: Params, name: str = "runtimeStatus") -> frozenset[OrchestrationStatus]:
    """A comma-separated list of runtime status names (case-insensitive)."""
    by_name = {status.name.lower(): status for status in OrchestrationStatus}
    found: set[OrchestrationStatus] = set()
    for raw in query_params(source).getall(name, []):
        for part in raw.split(","):
            if not part.strip():
                continue
            status = by_name.get(part.strip().lower())
            if status is None:
                allowed = ", ".join(s.name for s in OrchestrationStatus)
                raise RequestRejected(
                    f"The query parameter '{name}' has the unknown status '{part.strip()}'; use a "
                    f"comma-separated list of: {allowed}.",
                    parameter=name,
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
    """The request body as compact JSON text, ``None`` when empty; a 400 if it is not JSON, a 413 if too
    large (see ``request_limits``)."""
    raw = await body_text(request)
    if not raw.strip():
        return None
    return compact_json(parse_json(raw, what), what)


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
        """The client of the task hub the request names; a 400 for a bad ``taskHub`` or ``connection``."""
        hub, connection = hub_of(request), connection_of(request)
        if hub is not None and not self.extension.is_own_hub(hub):
            try:
                validate_hub_name(hub, "the 'taskHub' parameter")
            except ConfigurationError as exc:
                raise RequestRejected(str(exc), parameter="taskHub") from None
        try:
            return self.extension.client_for(hub, connection)
        except ConfigurationError as exc:
            message = f"{exc} The 'connection' parameter names the app setting of the task hub's storage."
            raise RequestRejected(message, parameter="connection") from None

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
