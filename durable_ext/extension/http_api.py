"""The HTTP management API: ``/runtime/webhooks/durabletask/...`` and the SDK client's ``/durabletask/...``.

Both bases serve the same handlers, as the reference host does. Bad input gets a 400 naming the parameter;
nothing is written for it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from ..azurestorage.names import validate_instance_id
from ..core.client import TaskHubClient
from ..core.history import OrchestrationStatus
from ..errors import InstanceAlreadyExistsError, InvalidRequestError
from .extension import DurableTaskExtension
from .status_payload import error_body, management_links, status_payload

WEBHOOK_BASE = "/runtime/webhooks/durabletask"
RPC_BASE = "/durabletask"
# The SDK's client sends no hub with most calls, so a binding that names another task hub gets an RPC
# base URL that carries it in the path.
SCOPED_RPC_BASE = RPC_BASE + "/taskHubs/{taskHub}/connections/{connection}"
NO_CONNECTION = "-"
RUNNING_STATES = {
    OrchestrationStatus.Running,
    OrchestrationStatus.Pending,
    OrchestrationStatus.ContinuedAsNew,
    OrchestrationStatus.Suspended,
}


def _bad_request(message: str) -> web.Response:
    return web.Response(status=400, text=error_body(message), content_type="application/json")


def _hub(request: web.Request) -> str | None:
    return request.match_info.get("taskHub") or request.query.get("taskHub")


def _connection(request: web.Request) -> str | None:
    scoped = request.match_info.get("connection")
    if scoped:
        return None if scoped == NO_CONNECTION else scoped
    return request.query.get("connection") or request.query.get("connectionName")


def _flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise InvalidRequestError(f"The query parameter '{name}' must be true or false, not '{value}'.")
    return value.lower() == "true"


def _seconds(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        message = f"The query parameter '{name}' must be a number of seconds, not '{value}'."
        raise InvalidRequestError(message) from None
    if seconds < 0:
        raise InvalidRequestError(f"The query parameter '{name}' must not be negative.")
    return seconds


async def json_body_text(request: web.Request, what: str) -> str | None:
    """The request body as compact JSON text, ``None`` when empty; a 400 if it is not JSON."""
    raw = await request.text()
    if not raw.strip():
        return None
    try:
        return json.dumps(json.loads(raw), separators=(",", ":"), ensure_ascii=False)
    except ValueError as exc:
        raise InvalidRequestError(f"The {what} in the request body is not valid JSON: {exc}.") from exc


class ManagementApi:
    def __init__(self, extension: DurableTaskExtension) -> None:
        self.extension = extension

    def routes(self) -> list[web.RouteDef]:
        defs: list[web.RouteDef] = []
        for base in (WEBHOOK_BASE, RPC_BASE, SCOPED_RPC_BASE):
            defs += [
                web.post(f"{base}/orchestrators/{{functionName}}", self.start),
                web.post(f"{base}/orchestrators/{{functionName}}/{{instanceId}}", self.start),
                web.get(f"{base}/instances/{{instanceId}}", self.get_status),
                web.post(f"{base}/instances/{{instanceId}}/raiseEvent/{{eventName}}", self.raise_event),
                web.post(f"{base}/instances/{{instanceId}}/terminate", self.terminate),
            ]
        return defs

    # ---- helpers ------------------------------------------------------------------------------
    def _client(self, request: web.Request) -> TaskHubClient:
        return self.extension.client_for(_hub(request), _connection(request))

    def _links(self, request: web.Request, instance_id: str) -> dict[str, str]:
        base = f"{request.scheme}://{request.host}{WEBHOOK_BASE}"
        query = {
            "taskHub": _hub(request) or self.extension.hub_name,
            "connection": _connection(request) or "Storage",
        }
        return management_links(base, instance_id, query)

    def _accepted(self, request: web.Request, instance_id: str) -> web.Response:
        links = self._links(request, instance_id)
        headers = {"Location": links["statusQueryGetUri"], "Retry-After": "10"}
        return web.json_response(links, status=202, headers=headers)

    # ---- handlers -----------------------------------------------------------------------------
    async def start(self, request: web.Request) -> web.Response:
        try:
            return await self._start(request)
        except InvalidRequestError as exc:
            return _bad_request(str(exc))
        except InstanceAlreadyExistsError as exc:
            return web.Response(status=409, text=error_body(str(exc)), content_type="application/json")

    async def _start(self, request: web.Request) -> web.Response:
        name = request.match_info["functionName"]
        instance_id = request.match_info.get("instanceId")
        own_hub = self.extension.is_own_hub(_hub(request))
        if own_hub and not self.extension.functions.has_orchestrator(name):
            raise InvalidRequestError(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            )
        if instance_id is not None:
            validate_instance_id(instance_id)
        timeout_s = _seconds(request, "timeout")
        interval_s = _seconds(request, "pollingInterval") or 1.0
        input_json = await json_body_text(request, "orchestration input")
        client = self._client(request)
        instance_id = await client.start(
            name, input_json, instance_id, version=request.query.get("version", "")
        )
        if timeout_s is None:
            return self._accepted(request, instance_id)
        return await self._wait_or_accept(request, client, instance_id, timeout_s, interval_s)

    async def _wait_or_accept(
        self,
        request: web.Request,
        client: TaskHubClient,
        instance_id: str,
        timeout_s: float,
        interval_s: float,
    ) -> web.Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            state = await client.get_state(instance_id)
            if state is not None and state.status == OrchestrationStatus.Completed:
                return web.Response(status=200, text=state.output or "null", content_type="application/json")
            if state is not None and state.status.is_terminal:
                code = 500 if state.status == OrchestrationStatus.Failed else 200
                return web.json_response(status_payload(state), status=code)
            await asyncio.sleep(min(interval_s, max(0.0, deadline - loop.time())))
        return self._accepted(request, instance_id)

    async def get_status(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instanceId"]
        try:
            show_history = _flag(request, "showHistory", False)
            show_output = _flag(request, "showHistoryOutput", False)
            show_input = _flag(request, "showInput", True)
            fail_500 = _flag(request, "returnInternalServerErrorOnFailure", False)
        except InvalidRequestError as exc:
            return _bad_request(str(exc))
        client = self._client(request)
        state = await client.get_state(instance_id)
        if state is None:
            return web.Response(status=404)
        history = await client.get_history(instance_id) if show_history else None
        body: dict[str, Any] = status_payload(
            state, show_input=show_input, history=history, show_history_output=show_output
        )
        if state.status in RUNNING_STATES:
            headers = {"Location": str(request.url), "Retry-After": "5"}
            return web.json_response(body, status=202, headers=headers)
        code = 500 if state.status == OrchestrationStatus.Failed and fail_500 else 200
        return web.json_response(body, status=code)

    async def raise_event(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instanceId"]
        if request.content_type != "application/json":
            return _bad_request("Only application/json request content is supported for raising events.")
        try:
            data = await json_body_text(request, "event data")
        except InvalidRequestError as exc:
            return _bad_request(str(exc))
        client = self._client(request)
        state = await client.get_state(instance_id)
        if state is None:
            return web.Response(
                status=404, text=error_body(f"No instance with ID '{instance_id}' was found.")
            )
        if state.status.is_terminal:
            return web.Response(
                status=410, text=error_body(f"The instance '{instance_id}' is {state.status.name}.")
            )
        await client.raise_event(instance_id, request.match_info["eventName"], data)
        return web.Response(status=202)

    async def terminate(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instanceId"]
        client = self._client(request)
        state = await client.get_state(instance_id)
        if state is None:
            return web.Response(
                status=404, text=error_body(f"No instance with ID '{instance_id}' was found.")
            )
        if state.status.is_terminal:
            return web.Response(
                status=410, text=error_body(f"The instance '{instance_id}' is {state.status.name}.")
            )
        await client.terminate(instance_id, request.query.get("reason"))
        return web.Response(status=202)
