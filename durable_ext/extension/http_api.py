"""The HTTP management API: ``/runtime/webhooks/durabletask/...`` and the SDK client's ``/durabletask/...``.

Both bases serve the same handlers, as the reference host does. Bad input gets a 400 naming the parameter;
nothing is written for it. This module routes and serves start and status; the instance operations are in
``http_instances``, the queries over many instances in ``http_queries`` and entities in ``http_entities``.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from aiohttp import web

from ..core.history import OrchestrationStatus
from ..core.instance_ids import validate_instance_id
from ..errors import InstanceNotFoundError
from .extension import DurableTaskExtension
from .http_common import (
    NO_CONNECTION,
    RPC_BASE,
    SCOPED_RPC_BASE,
    WEBHOOK_BASE,
    ApiHandlers,
    WaitOptions,
    api_errors,
    blame,
    error_response,
    flag,
    hub_of,
    instance_id_of,
    json_body_text,
)
from .http_entities import EntityHandlers
from .http_instances import InstanceHandlers
from .http_jobs import JobHandlers
from .http_queries import QueryHandlers
from .monitor import MONITOR_HEADER, READ_ONLY_SETTING, monitor_read_only
from .openapi import openapi_document
from .request_limits import MAX_NAME_LENGTH, RequestRejected, check_length
from .status_payload import status_payload

__all__ = ["NO_CONNECTION", "ROUTES", "RPC_BASE", "SCOPED_RPC_BASE", "WEBHOOK_BASE", "ManagementApi"]

RUNNING_STATES = {
    OrchestrationStatus.Running,
    OrchestrationStatus.Pending,
    OrchestrationStatus.ContinuedAsNew,
    OrchestrationStatus.Suspended,
}


ROUTES: list[tuple[str, str, str]] = [
    ("POST", "/orchestrators/{functionName}", "start"),
    ("POST", "/orchestrators/{functionName}/{instanceId}", "start"),
    ("GET", "/poison", "queries.list_poison"),
    ("GET", "/metrics", "queries.metrics"),
    ("GET", "/functions", "queries.functions"),
    ("GET", "/counts", "queries.count_instances"),
    ("GET", "/histogram", "queries.histogram"),
    ("POST", "/jobs", "jobs.create"),
    ("GET", "/jobs", "jobs.list"),
    ("GET", "/jobs/{jobId}", "jobs.get"),
    ("POST", "/jobs/{jobId}/cancel", "jobs.cancel"),
    ("GET", "/instances", "queries.list_instances"),
    ("GET", "/instances/", "queries.list_instances"),
    ("DELETE", "/instances", "queries.purge_instances"),
    ("DELETE", "/instances/", "queries.purge_instances"),
    ("GET", "/instances/{instanceId}", "get_status"),
    ("DELETE", "/instances/{instanceId}", "instances.purge"),
    ("POST", "/instances/{instanceId}/raiseEvent/{eventName}", "instances.raise_event"),
    ("POST", "/instances/{instanceId}/terminate", "instances.terminate"),
    ("POST", "/instances/{instanceId}/suspend", "instances.suspend"),
    ("POST", "/instances/{instanceId}/resume", "instances.resume"),
    ("POST", "/instances/{instanceId}/rewind", "instances.rewind"),
    ("POST", "/instances/{instanceId}/restart", "instances.restart"),
    ("POST", "/entities/{entityName}/{entityKey}", "entities.signal"),
    ("DELETE", "/entities/{entityName}/{entityKey}", "entities.signal"),
    ("GET", "/entities/{entityName}/{entityKey}", "entities.read"),
    ("GET", "/entities", "entities.list"),
    ("GET", "/entities/", "entities.list"),
    ("GET", "/entities/{entityName}", "entities.list"),
    ("GET", "/entities/{entityName}/", "entities.list"),
    ("GET", "/openapi.json", "openapi"),
]
"""Every route of the API: method, path under each base, and the handler (an attribute path)."""


def _monitor_read_only(handler: Any, read_only: bool, method: str) -> Any:
    """With the monitor read-only, a change asked for by the monitor is refused (403, naming the setting)."""
    if not read_only or method == "GET":
        return handler

    async def guarded(request: web.Request) -> web.StreamResponse:
        if request.headers.get(MONITOR_HEADER):
            message = (
                f"The monitor is read-only ({READ_ONLY_SETTING} is true): it shows the task hub but does "
                "not change it. Set the app setting to false to act from the monitor."
            )
            return error_response(403, message, MONITOR_HEADER)
        return await handler(request)

    return guarded


class ManagementApi(ApiHandlers):
    def __init__(self, extension: DurableTaskExtension) -> None:
        super().__init__(extension)
        self.instances = InstanceHandlers(extension)
        self.queries = QueryHandlers(extension)
        self.entities = EntityHandlers(extension)
        self.jobs = JobHandlers(extension)

    def routes(self) -> list[web.RouteDef]:
        """Each route of :data:`ROUTES` under the public base and the SDK's two private ones."""
        route = {"GET": web.get, "POST": web.post, "DELETE": web.delete}  # web.get also answers HEAD
        read_only = monitor_read_only(self.extension)
        return [
            route[method](base + path, _monitor_read_only(attrgetter(handler)(self), read_only, method))
            for base in (WEBHOOK_BASE, RPC_BASE, SCOPED_RPC_BASE)
            for method, path, handler in ROUTES
        ]

    async def openapi(self, request: web.Request) -> web.Response:
        """``GET /openapi.json``: the OpenAPI 3.1 description of this API, for this host's address."""
        return web.json_response(openapi_document(f"{request.scheme}://{request.host}"))

    @api_errors
    async def start(self, request: web.Request) -> web.Response:
        name = check_length(
            request.match_info["functionName"], MAX_NAME_LENGTH, "functionName", "function name"
        )
        instance_id = request.match_info.get("instanceId")
        own_hub = self.extension.is_own_hub(hub_of(request))
        if own_hub and not self.extension.functions.has_orchestrator(name):
            raise RequestRejected(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
                + self.extension.functions.why_not_loaded(name),
                parameter="functionName",
            )
        if instance_id is not None:
            with blame("instanceId"):
                validate_instance_id(instance_id)
        wait = WaitOptions.of(request)
        client = self.client(request)
        input_json = await json_body_text(request, "orchestration input")
        instance_id = await client.start(
            name, input_json, instance_id, version=request.query.get("version", "")
        )
        return await self.wait_or_accept(request, client, instance_id, wait)

    @api_errors
    async def get_status(self, request: web.Request) -> web.Response:
        instance_id = instance_id_of(request)
        show_history = flag(request, "showHistory", False)
        show_output = flag(request, "showHistoryOutput", False)
        show_input = flag(request, "showInput", True)
        fail_500 = flag(request, "returnInternalServerErrorOnFailure", False)
        show_pending = flag(request, "showPending", False)
        client = self.client(request)
        state = await client.get_state(instance_id)
        if state is None:
            # the SDK's get_status reads a 404 as "no such instance" whatever the body says
            raise InstanceNotFoundError(instance_id)
        history = await client.get_history(instance_id) if show_history else None
        body: dict[str, Any] = status_payload(
            state,
            show_input=show_input,
            history=history,
            show_history_output=show_output,
            show_pending=show_pending,
        )
        if state.status in RUNNING_STATES:
            headers = {"Location": str(request.url), "Retry-After": "5"}
            return web.json_response(body, status=202, headers=headers)
        code = 500 if state.status == OrchestrationStatus.Failed and fail_500 else 200
        return web.json_response(body, status=code)
