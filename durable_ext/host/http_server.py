"""The host's HTTP server: management handlers added by other parts, then the function router.

Handlers added with :meth:`HttpServer.add_routes` / :meth:`HttpServer.add_subapp` are matched first;
every other request goes to the :class:`HttpRouter`, which holds the routes of HTTP-triggered functions.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bindings.http import FunctionRoute, error_response
from bindings.http_routes import RouteTemplate, split_path
from durable_ext.errors import ConfigurationError

from ..extension.http_common import RPC_BASE, WEBHOOK_BASE
from ..extension.monitor import MONITOR_PATH
from ..extension.request_limits import MAX_HTTP_LINE_BYTES
from .auth import Access, RequestAuthorizer
from .keys import HostKeys

logger = logging.getLogger("durable_ext.http")

MAX_REQUEST_BODY_BYTES = 100 * 1024 * 1024
"""The Functions host's default request size limit; durable inputs of several MB must fit."""


@dataclass(frozen=True)
class RouteMatch:
    route: FunctionRoute
    params: dict[str, str]


@dataclass(frozen=True)
class RouteMiss:
    status: int
    """404 when no route matches the path, 405 when routes match the path but not the method."""
    allowed_methods: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Entry:
    route: FunctionRoute
    template: RouteTemplate


class HttpRouter:
    """The routes of HTTP-triggered functions, most specific first."""

    def __init__(self, route_prefix: str = "api") -> None:
        self.route_prefix = route_prefix.strip().strip("/")
        self._entries: list[_Entry] = []

    def add(self, route: FunctionRoute) -> None:
        """Register (or replace) the route of ``route.function_name``."""
        template = RouteTemplate.parse(f"{self.route_prefix}/{route.route.strip('/')}")
        self.remove(route.function_name)
        self._entries.append(_Entry(route, template))
        self._entries.sort(key=lambda e: (e.template.specificity_key(), e.route.function_name))

    def remove(self, function_name: str) -> None:
        self._entries = [e for e in self._entries if e.route.function_name != function_name]

    def routes(self) -> list[tuple[FunctionRoute, str]]:
        """Each registered route with its full template, in match order."""
        return [(e.route, e.template.text) for e in self._entries]

    def match(self, method: str, raw_path: str) -> RouteMatch | RouteMiss:
        """The route for ``method`` and the percent-encoded ``raw_path``, or why there is none."""
        segments = split_path(raw_path)
        allowed: set[str] = set()
        for entry in self._entries:
            params = entry.template.match(segments)
            if params is None:
                continue
            if entry.route.allows(method):
                return RouteMatch(entry.route, params)
            allowed |= entry.route.methods
        return RouteMiss(405, frozenset(allowed)) if allowed else RouteMiss(404)


ADMIN_BASE = "/admin"
PING_PATH = "/admin/host/ping"


def management_access(path: str) -> Access | None:
    """What a path of the management API, the host admin API or the monitor needs; None for the
    function routes. ``/admin/host/ping`` is open to every caller, as on the Functions host."""
    lowered = path.lower()
    if lowered == PING_PATH:
        return Access.ANONYMOUS
    if lowered == ADMIN_BASE or lowered.startswith(ADMIN_BASE + "/"):
        return Access.ADMIN
    if lowered == MONITOR_PATH or lowered.startswith(MONITOR_PATH + "/"):
        return Access.MONITOR
    for base in (WEBHOOK_BASE, RPC_BASE):
        if lowered == base or lowered.startswith(base + "/"):
            return Access.DURABLETASK
    return None


class HttpServer:
    """aiohttp server on one port; add management handlers before :meth:`start`."""

    def __init__(
        self,
        router: HttpRouter,
        host: str = "127.0.0.1",
        port: int = 7071,
        *,
        reuse_port: bool = False,
        keys: HostKeys | None = None,
    ) -> None:
        self.reuse_port = reuse_port
        """Several worker processes listen on the same port (the kernel spreads connections)."""
        self.router = router
        self.host = host
        self.port = port
        self.authorizer = RequestAuthorizer(keys or HostKeys())
        self.app = web.Application(client_max_size=MAX_REQUEST_BODY_BYTES, middlewares=[self._guard])
        self._runner: web.AppRunner | None = None

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        self._ensure_not_started("add routes")
        self.app.add_routes(routes)

    def add_middleware(self, middleware: Any) -> None:
        """Run ``middleware`` (an aiohttp middleware) after the key check, before every handler."""
        self._ensure_not_started("add a middleware")
        self.app.middlewares.append(middleware)

    def add_subapp(self, prefix: str, app: web.Application) -> None:
        self._ensure_not_started("add a sub-application")
        self.app.add_subapp(prefix, app)

    @property
    def base_url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._ensure_not_started("start")
        self.app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(
            self.app, max_line_size=MAX_HTTP_LINE_BYTES, max_field_size=MAX_HTTP_LINE_BYTES
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port, reuse_port=self.reuse_port or None).start()
        except OSError as exc:
            await runner.cleanup()
            raise _bind_error(self.host, self.port, exc) from exc
        self._runner = runner
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        logger.info("HTTP server listening on %s", self.base_url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _ensure_not_started(self, action: str) -> None:
        if self._runner is not None or self.app.frozen:
            raise RuntimeError(f"Cannot {action}: the HTTP server has already started.")

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        access = management_access(request.path)
        refusal = self.authorizer.refusal(request, access) if access is not None else None
        return refusal if refusal is not None else await handler(request)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        found = self.router.match(request.method, request.rel_url.raw_path)
        if isinstance(found, RouteMatch):
            route = found.route
            access = Access.of_auth_level(route.auth_level)
            refusal = self.authorizer.refusal(request, access, route.function_name)
            return refusal if refusal is not None else await route.handler(request, found.params)
        if found.status == 405:
            allowed = ", ".join(sorted(found.allowed_methods))
            message = f"Method {request.method} is not allowed for {request.path}; allowed: {allowed}."
            return error_response(405, message, headers={"Allow": allowed})
        return error_response(404, f"No function route matches {request.method} {request.path}.")


def _bind_error(host: str, port: int, exc: OSError) -> ConfigurationError:
    if exc.errno == errno.EADDRINUSE:
        return ConfigurationError(
            f"Port {port} on {host} is already in use (another host or program is listening on it). "
            "Stop that program or start with a different port: --port <number>."
        )
    return ConfigurationError(f"Cannot listen on {host}:{port}: {exc}. Check the host name or use --port.")
