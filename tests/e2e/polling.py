"""Helpers for driving instances over HTTP in end-to-end tests."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


async def poll_status(
    http: aiohttp.ClientSession, status_url: str, timeout_s: float = 30.0
) -> dict[str, Any]:
    """GET the status URL until the instance is in a terminal state; return the final body."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    body: Any = None
    while loop.time() < deadline:
        async with http.get(status_url) as response:
            body = await response.json(content_type=None)
            if body and body.get("runtimeStatus") in TERMINAL:
                return dict(body)
            assert response.status in (200, 202), f"unexpected status {response.status}: {body}"
        await asyncio.sleep(0.1)
    raise AssertionError(f"instance did not finish in {timeout_s} s; last status: {body}")
