"""A message that cannot be processed is moved aside and shown by the HTTP API (features app: limit 2)."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
from azure.storage.queue.aio import QueueClient

from .hosting import RunningHost

API = "/runtime/webhooks/durabletask"


async def test_an_unreadable_message_is_listed_as_poison(
    features_host: RunningHost, http: aiohttp.ClientSession, connection_string: str
) -> None:
    marker = f"garbage-{uuid.uuid4().hex}"
    async with QueueClient.from_connection_string(connection_string, "featureshub-control-00") as queue:
        await queue.send_message(marker)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    found: list[dict] = []
    while not found:
        assert loop.time() < deadline, "the message never reached the poison table"
        async with http.get(f"{features_host.base_url}{API}/poison") as response:
            assert response.status == 200
            found = [m for m in await response.json() if m["body"] == marker]
        await asyncio.sleep(0.3)
    assert found[0]["queue"] == "featureshub-control-00"
    assert "not a task message" in found[0]["reason"]
    assert found[0]["dequeueCount"] >= 2
    assert found[0]["messageId"] in features_host.log()  # and the host logged it
