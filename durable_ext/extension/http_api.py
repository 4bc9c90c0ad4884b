"""The HTTP management API: ``/runtime/webhooks/durabletask/...`` and the SDK client's ``/durabletask/...``.

Both bases serve the same handlers, as the reference host does. Bad input gets a 400 naming the parameter;
nothing is written for it. This module routes and serves start and status; the instance operations are in
``http_instances``, the queries over many instances in ``http_queries`` and entities in ``http_entities``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..azurestorage.names import validate_instance_id
from ..core.history import OrchestrationStatus
from ..errors import InvalidRequestError
from .extension import DurableTaskExtension
from .http_common import (
    NO_CONNECTION,
    RPC_BASE,
    SCOPED_RPC_BASE,
    WEBHOOK_BASE,
    ApiHandlers,
    WaitOptions,
    api_errors,
    flag,
    hub_of,
    json_body_text,
)
from .http_entities import EntityHandlers
from .http_instances import InstanceHandlers
from .http_queries import QueryHandlers
from .status_payload import status_payload

__all__ = ["NO_CONNECTION", "RPC_BASE", "SCOPED_RPC_BASE", "WEBHOOK_BASE", "ManagementApi"]

RUNNING_STATES = {
    OrchestrationStatus.Running,
    OrchestrationStatus.Pending,
    OrchestrationStatus.ContinuedAsNew,
    OrchestrationStatus.Suspended,
}


class ManagementApi(ApiHandlers):
    def __init__(self, extension: DurableTaskExtension) -> None:
        super().__init__(extension)
        self.instances = InstanceHandlers(extension)
        self.queries = QueryHandlers(extension)
        self.entities = EntityHandlers(extension)

    def routes(self) -> list[web.RouteDef]:
        defs: list[web.RouteDef] = []
        for base in (WEBHOOK_BASE, RPC_BASE, SCOPED_RPC_BASE):
            instance = f"{base}/instances/{{instanceId}}"
            defs += [
                web.post(f"{base}/orchestrators/{{functionName}}", self.start),
                web.post(f"{base}/orchestrators/{{functionName}}/{{instanceId}}", self.start),
                web.get(f"{base}/poison", self.queries.list_poison),
                web.get(f"{base}/metrics", self.queries.metrics),
                web.get(f"{base}/instances", self.queries.list_instances),
                web.get(f"{base}/instances/", self.queries.list_instances),
                web.delete(f"{base}/instances", self.queries.purge_instances),
                web.delete(f"{base}/instances/", self.queries.purge_instances),
                web.get(instance, self.get_status),
                web.delete(instance, self.instances.purge),
                web.post(f"{instance}/raiseEvent/{{eventName}}", self.instances.raise_event),
                web.post(f"{instance}/terminate", self.instances.terminate),
                web.post(f"{instance}/suspend", self.instances.suspend),
                web.post(f"{instance}/resume", self.instances.resume),
                web.post(f"{instance}/rewind", self.instances.rewind),
                web.post(f"{instance}/restart", self.instances.restart),
            ]
            entity = f"{base}/entities/{{entityName}}/{{entityKey}}"
            defs += [
                web.post(entity, self.entities.signal),
                web.delete(entity, self.entities.signal),
                web.get(entity, self.entities.read),
                web.get(f"{base}/entities", self.entities.list),
                web.get(f"{base}/entities/", self.entities.list),
                web.get(f"{base}/entities/{{entityName}}", self.entities.list),
                web.get(f"{base}/entities/{{entityName}}/", self.entities.list),
            ]
        return defs

    @api_errors
    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["functionName"]
        instance_id = request.match_info.get("instanceId")
        own_hub = self.extension.is_own_hub(hub_of(request))
        if own_hub and not self.extension.functions.has_orchestrator(name):
            raise InvalidRequestError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
                + self.extension.functions.why_not_loaded(name)
            )
        if instance_id is not None:
            validate_instance_id(instance_id)
        wait = WaitOptions.of(request)
        input_json = await json_body_text(request, "orchestration input")
        client = self.client(request)
        instance_id = await client.start(
            name, input_json, instance_id, version=request.query.get("version", "")
        )
        return await self.wait_or_accept(request, client, instance_id, wait)

    @api_errors
    async def get_status(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instanceId"]
        show_history = flag(request, "showHistory", False)
        show_output = flag(request, "showHistoryOutput", False)
        show_input = flag(request, "showInput", True)
        fail_500 = flag(request, "returnInternalServerErrorOnFailure", False)
        show_pending = flag(request, "showPending", False)
        client = self.client(request)
        state = await client.get_state(instance_id)
        if state is None:
            return web.Response(status=404)
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
