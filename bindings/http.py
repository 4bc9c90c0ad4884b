"""The ``httpTrigger`` binding: route templates, request/response conversion and the route listener.

A function's route is registered in a :class:`RouteTable` (the host's HTTP router) while its listener
runs. Route templates follow the Functions host: literal segments (case-insensitive), ``{name}``,
trailing optional ``{name?}``, constrained ``{id:int}``, and a final catch-all ``{*rest}``.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from bindings.base import FunctionInfo, FunctionInvoker, InvocationContext
from bindings.http_routes import RouteTemplate
from durable_ext.extension.storage_watch import WAIT_INTERVAL_S

logger = logging.getLogger("durable_ext.http")

RouteHandler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]


# --------------------------------------------------------------------------- router seam


@dataclass(frozen=True)
class FunctionRoute:
    """What the HTTP trigger registers with the router for one function."""

    function_name: str
    route: str
    """The route template without the route prefix."""
    methods: frozenset[str]
    """Upper-case HTTP methods; empty means every method."""
    handler: RouteHandler
    auth_level: str = "function"
    """The trigger's ``authLevel``: anonymous, function or admin (the host checks keys by it)."""

    def allows(self, method: str) -> bool:
        return not self.methods or method.upper() in self.methods


class RouteTable(Protocol):
    """The host's HTTP router as the HTTP trigger sees it (``durable_ext.host.http_server.HttpRouter``)."""

    def add(self, route: FunctionRoute) -> None: ...

    def remove(self, function_name: str) -> None: ...


# --------------------------------------------------------------------------- conversions


async def to_function_request(request: web.Request, route_params: Mapping[str, str]) -> func.HttpRequest:
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=_join_values(request.headers, ", "),
        params=_join_values(request.query, ","),
        route_params=dict(route_params),
        body=await request.read(),
    )


def _join_values(pairs: Any, separator: str) -> dict[str, str]:
    joined: dict[str, str] = {}
    for key in pairs:
        if key not in joined:
            joined[key] = separator.join(pairs.getall(key))
    return joined


def to_web_response(function_name: str, result: Any) -> web.Response:
    """The aiohttp response for a function's ``$return`` value."""
    if isinstance(result, func.HttpResponse):
        return _from_http_response(function_name, result)
    if isinstance(result, str | bytes):
        body = result.encode() if isinstance(result, str) else result
        return web.Response(body=body, content_type="text/plain", charset="utf-8")
    if isinstance(result, dict | list):
        return web.Response(text=json.dumps(result), content_type="application/json")
    if result is None:
        return web.Response(status=204)
    return error_response(
        500,
        f"Function '{function_name}' returned a value of type {type(result).__name__}; an HTTP-triggered "
        "function must return func.HttpResponse, str, bytes, dict, list or None.",
    )


def _from_http_response(function_name: str, result: func.HttpResponse) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    for key, value in result.headers.items():
        if key.lower() not in ("content-length", "transfer-encoding"):
            headers.add(key, str(value))
    if "Content-Type" not in headers:
        headers["Content-Type"] = f"{result.mimetype}; charset={result.charset}"
    try:
        return web.Response(status=int(result.status_code), body=result.get_body(), headers=headers)
    except (ValueError, TypeError) as exc:
        return error_response(500, f"Function '{function_name}' returned an invalid HttpResponse: {exc}")


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """A host-generated error: JSON ``{"error": message}``."""
    return web.json_response({"error": message}, status=status, headers=headers)


# --------------------------------------------------------------------------- binding


HTTP_RESPONSE = "http_response"
"""The key in ``InvocationContext.extras`` under which the ``http`` output leaves the response."""


@dataclass
class HttpOutputBinding:
    """The ``http`` output (``$return`` or a ``func.Out[func.HttpResponse]``): the trigger's response."""

    parameter_name: str

    async def write(self, value: Any, invocation: InvocationContext) -> None:
        invocation.extras[HTTP_RESPONSE] = value


class HttpOutputBindingProvider:
    binding_type = "http"

    def create_output(self, function: FunctionInfo, binding: dict[str, Any]) -> HttpOutputBinding:
        if function.trigger_type.lower() != "httptrigger":
            raise ValueError(
                f"its http output '{binding.get('name')}' needs an httpTrigger; the trigger is "
                f"'{function.trigger_type}'. Remove the http output or use an HTTP trigger."
            )
        return HttpOutputBinding(str(binding.get("name")))


class HttpTriggerBindingProvider:
    binding_type = "httpTrigger"

    def __init__(self, router: RouteTable) -> None:
        self._router = router

    def create_trigger(self, function: FunctionInfo) -> HttpTriggerBinding:
        return HttpTriggerBinding(function, self._router)


class HttpTriggerBinding:
    def __init__(self, function: FunctionInfo, router: RouteTable) -> None:
        self.function = function
        self._router = router
        self.route = str(function.trigger.get("route") or function.name)
        RouteTemplate.parse(self.route)  # a bad template is reported when the app is indexed
        self.methods = frozenset(str(m).upper() for m in function.trigger.get("methods") or ())
        self.auth_level = str(function.trigger.get("authLevel") or "function").lower()

    def create_listener(self, invoker: FunctionInvoker) -> HttpTriggerListener:
        route = FunctionRoute(
            self.function.name, self.route, self.methods, _handler_for(invoker), self.auth_level
        )
        return HttpTriggerListener(route, self._router)


class HttpTriggerListener:
    def __init__(self, route: FunctionRoute, router: RouteTable) -> None:
        self.route = route
        self._router = router

    async def start(self) -> None:
        self._router.add(self.route)

    async def stop(self) -> None:
        self._router.remove(self.route.function_name)


def _handler_for(invoker: FunctionInvoker) -> RouteHandler:
    async def handle(request: web.Request, route_params: dict[str, str]) -> web.StreamResponse:
        name = invoker.function.name
        function_request = await to_function_request(request, route_params)
        invocation = InvocationContext(
            str(uuid.uuid4()), name, extras={"request": function_request}, binding_data=dict(route_params)
        )
        try:
            await invoker.invoke(function_request, invocation)
        except Exception as exc:
            unavailable = storage_unavailable(exc)
            if unavailable is not None:
                logger.warning("Function '%s' failed: %s", name, unavailable)
                headers = {"Retry-After": str(math.ceil(WAIT_INTERVAL_S))}
                return error_response(503, f"Function '{name}' failed: {unavailable}", headers=headers)
            logger.exception("Function '%s' failed (invocation %s)", name, invocation.invocation_id)
            return error_response(500, f"Function '{name}' failed: {type(exc).__name__}: {exc}")
        return to_web_response(name, invocation.extras.get(HTTP_RESPONSE))

    return handle


def storage_unavailable(exc: BaseException) -> str | None:
    """The message of the management API's ``503`` when the SDK client raised it (it raises the
    response body it got as the exception's argument), else None."""
    body = exc.args[0] if exc.args else None
    if isinstance(body, dict) and isinstance(body.get("storage"), dict):
        return str(body.get("Message") or "storage is unavailable")
    return None
