"""The host admin routes the Functions host has: ``/admin/host/ping`` and ``/admin/host/status``.

Both answer from what the host holds in memory, never from storage, so they answer at once however
storage is doing. The status adds a ``durableTask`` object: the task hub, whether its worker runs, the
partitions this process owns and what storage last did.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .. import __version__
from ..extension.extension import DurableTaskExtension
from .http_server import PING_PATH

STATUS_PATH = "/admin/host/status"


class HostAdmin:
    def __init__(self, extension: DurableTaskExtension, host_id: str) -> None:
        self.extension = extension
        self.host_id = host_id
        self.started_monotonic = time.monotonic()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(PING_PATH, self.ping),
            web.post(PING_PATH, self.ping),
            web.get(STATUS_PATH, self.status),
        ]

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.status_payload())

    def status_payload(self) -> dict[str, Any]:
        extension = self.extension
        health = extension.service.health
        errors: list[str] = []
        if extension.starter.error:
            errors.append(extension.starter.error)
        elif health.reachable is False:
            errors.append(f"{health.describe()}. {health.advice()}")
        if errors:
            state = "Error"
        elif extension.worker.started:
            state = "Running"
        else:
            state = "Initialized"
        payload: dict[str, Any] = {
            "id": self.host_id,
            "state": state,
            "version": __version__,
            "versionDetails": f"durable-ext {__version__}",
            "processUptime": int((time.monotonic() - self.started_monotonic) * 1000),
            "durableTask": {
                "hubName": extension.hub_name,
                "workerStarted": extension.worker.started,
                "ownedPartitions": extension.service.owned_partitions(),
                "storage": health.snapshot(),
            },
        }
        if errors:
            payload["errors"] = errors
        return payload
