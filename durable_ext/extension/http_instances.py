"""Handlers that act on one instance: raise an event, terminate, suspend, resume, rewind, restart, purge.

Each checks its parameters before it touches storage, so a 400 never leaves anything written.
"""

from __future__ import annotations

from aiohttp import web

from ..errors import InstanceNotFoundError, InstanceStateError, InvalidRequestError
from .http_common import ApiHandlers, WaitOptions, api_errors, flag, json_body_text

JSON_CONTENT_TYPE = "application/json"


class InstanceHandlers(ApiHandlers):
    @api_errors
    async def raise_event(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instanceId"]
        if request.content_type != JSON_CONTENT_TYPE:
            raise InvalidRequestError(
                "Only application/json request content is supported for raising events; the request's "
                f"Content-Type is '{request.content_type}'."
            )
        data = await json_body_text(request, "event data")
        client = self.client(request)
        state = await client.get_state(instance_id)
        if state is None:
            raise InstanceNotFoundError(instance_id)
        if state.status.is_terminal:
            rule = "events can only be raised to running, pending or suspended instances."
            raise InstanceStateError(instance_id, state.status.name, rule)
        await client.raise_event(instance_id, request.match_info["eventName"], data)
        return web.Response(status=202)

    @api_errors
    async def terminate(self, request: web.Request) -> web.Response:
        await self.client(request).terminate(request.match_info["instanceId"], request.query.get("reason"))
        return web.Response(status=202)

    @api_errors
    async def suspend(self, request: web.Request) -> web.Response:
        await self.client(request).suspend(request.match_info["instanceId"], request.query.get("reason"))
        return web.Response(status=202)

    @api_errors
    async def resume(self, request: web.Request) -> web.Response:
        await self.client(request).resume(request.match_info["instanceId"], request.query.get("reason"))
        return web.Response(status=202)

    @api_errors
    async def rewind(self, request: web.Request) -> web.Response:
        await self.client(request).rewind(request.match_info["instanceId"], request.query.get("reason"))
        return web.Response(status=202)

    @api_errors
    async def restart(self, request: web.Request) -> web.Response:
        new_id = flag(request, "restartWithNewInstanceId", True)
        wait = WaitOptions.of(request)
        client = self.client(request)
        instance_id = await client.restart(request.match_info["instanceId"], new_instance_id=new_id)
        return await self.wait_or_accept(request, client, instance_id, wait)

    @api_errors
    async def purge(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instanceId"]
        if await self.client(request).purge(instance_id) == 0:
            raise InstanceNotFoundError(instance_id)
        return web.json_response({"instancesDeleted": 1})
