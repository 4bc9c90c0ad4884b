"""Bounded waits for storage on the management API: a ``503`` that says why, not a frozen request.

Every request under the management API (which is also what the SDK's durable client calls) runs under
the retry budget (``storageProvider.retryBudget``). When the budget is spent and storage has not answered
since the request began, or a storage fault ends the request, the answer is ``503`` with ``Retry-After``
and a body naming the endpoint, the app setting it came from and the last error. A slow operation on
storage that does answer (a large purge) is not cut off.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..core.health import StorageHealth
from ..errors import StorageError
from .extension import DurableTaskExtension
from .http_common import RPC_BASE, WEBHOOK_BASE, connection_of, hub_of
from .monitor import MONITOR_PATH
from .storage_watch import WAIT_INTERVAL_S

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HealthOf = Callable[[web.Request], StorageHealth]


def unavailable_body(health: StorageHealth, detail: str | None = None) -> dict[str, Any]:
    message = f"{health.describe()}. {health.advice()}"
    if detail:
        message += f" ({detail})"
    return {"Message": message, "ExceptionMessage": message, "storage": health.snapshot()}


def unavailable_response(health: StorageHealth, detail: str | None = None) -> web.Response:
    snapshot = unavailable_body(health, detail)
    snapshot["storage"]["reachable"] = False
    return web.Response(
        status=503,
        text=json.dumps(snapshot),
        content_type="application/json",
        headers={"Retry-After": str(math.ceil(WAIT_INTERVAL_S))},
    )


class StorageBudget:
    """The aiohttp middleware that bounds the storage waits of the paths ``applies`` accepts."""

    def __init__(self, budget_s: float, health_of: HealthOf, applies: Callable[[str], bool]) -> None:
        self.budget_s = budget_s
        self.health_of = health_of
        self.applies = applies

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.applies(request.path):
            return await handler(request)
        health = self.health_of(request)
        task = asyncio.ensure_future(handler(request))
        try:
            while True:
                window = time.monotonic()
                done, _ = await asyncio.wait({task}, timeout=self.budget_s)
                if done:
                    return task.result()
                if not health.answered_since(window) or health.reachable is False:
                    task.cancel()
                    return unavailable_response(health, f"no answer within {self.budget_s:g} s")
        except StorageError as exc:
            if health.reachable is False or health.auth_failed:
                return unavailable_response(health, str(exc))
            raise
        finally:
            if not task.done():
                task.cancel()


def management_budget(extension: DurableTaskExtension) -> Any:
    """The middleware bounding the management API's storage waits by the hub's retry budget."""

    def health_of(request: web.Request) -> StorageHealth:
        return extension.health_for(hub_of(request), connection_of(request))

    def applies(path: str) -> bool:
        lowered = path.lower()
        if lowered.startswith(MONITOR_PATH):
            return False
        return any(lowered == base or lowered.startswith(base + "/") for base in (WEBHOOK_BASE, RPC_BASE))

    budget = StorageBudget(extension.options.storage_retry_budget_s, health_of, applies)
    return budget.middleware
