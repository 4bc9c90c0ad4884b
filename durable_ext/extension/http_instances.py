"""Handlers that act on one instance: raise an event, terminate, suspend, resume, rewind, restart, purge.

Each checks its parameters before it touches storage, so a 400 never leaves anything written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..core.client import TaskHubClient
from ..errors import InstanceNotFoundError, InstanceStateError
from .http_common import ApiHandlers, WaitOptions, api_errors, blame, flag, instance_id_of, json_body_text
from .request_limits import MAX_NAME_LENGTH, RequestRejected, check_length

JSON_CONTENT_TYPE = "application/json"
InstanceAction = Callable[[TaskHubClient, str, str | None], Awaitable[None]]


class InstanceHandlers(ApiHandlers):
    @api_errors
    async def raise_event(self, request: web.Request) -> web.Response:
        instance_id = instance_id_of(request)
        event_name = check_length(request.match_info["eventName"], MAX_NAME_LENGTH, "eventName", "event name")
        if request.content_type != JSON_CONTENT_TYPE:
            raise RequestRejected(
                "Only application/json request content is supported for raising events; the request's "
                f"Content-Type is '{request.content_type}'. Send the event data as JSON with "
                "Content-Type: application/json.",
                parameter="Content-Type",
            )
        client = self.client(request)
        data = await json_body_text(request, "event data")
        with blame("instanceId"):
            state = await client.get_state(instance_id)
            if state is None:
                raise InstanceNotFoundError(instance_id)
            if state.status.is_terminal:
                rule = "events can only be raised to running, pending or suspended instances."
                raise InstanceStateError(instance_id, state.status.name, rule)
            await client.raise_event(instance_id, event_name, data)
        return web.Response(status=202)

    @api_errors
    async def terminate(self, request: web.Request) -> web.Response:
        return await self._act(request, TaskHubClient.terminate)

    @api_errors
    async def suspend(self, request: web.Request) -> web.Response:
        return await self._act(request, TaskHubClient.suspend)

    @api_errors
    async def resume(self, request: web.Request) -> web.Response:
        return await self._act(request, TaskHubClient.resume)

    @api_errors
    async def rewind(self, request: web.Request) -> web.Response:
        return await self._act(request, TaskHubClient.rewind)

    async def _act(self, request: web.Request, act: InstanceAction) -> web.Response:
        """An operation that takes the instance and an optional ``reason``; 202 once it is sent."""
        instance_id = instance_id_of(request)
        client = self.client(request)
        with blame("instanceId"):
            await act(client, instance_id, request.query.get("reason"))
        return web.Response(status=202)

    @api_errors
    async def restart(self, request: web.Request) -> web.Response:
        instance_id = instance_id_of(request)
        new_id = flag(request, "restartWithNewInstanceId", True)
        wait = WaitOptions.of(request)
        client = self.client(request)
        with blame("instanceId"):
            instance_id = await client.restart(instance_id, new_instance_id=new_id)
        return await self.wait_or_accept(request, client, instance_id, wait)

    @api_errors
    async def purge(self, request: web.Request) -> web.Response:
        instance_id = instance_id_of(request)
        if await self.client(request).purge(instance_id) == 0:
            raise InstanceNotFoundError(instance_id)
        return web.json_response({"instancesDeleted": 1})
