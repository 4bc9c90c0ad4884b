"""The v1-model sample app (samples/v1_app: function.json folders) through `durable-ext start`.

It uses the legacy `orchestrationClient` binding, `df.Orchestrator.create`, `df.Entity.create`, shared
code imported three ways, a named http output, a queue-triggered start and a blob output.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from .conftest import serve
from .hosting import REPO_ROOT, RunningHost
from .polling import poll_status

APP = REPO_ROOT / "samples" / "v1_app"


@pytest.fixture(scope="module")
async def v1_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    async for host in serve(APP, connection_string, tmp_path_factory):
        yield host


async def saved_greetings(connection_string: str, instance_id: str, timeout_s: float = 15) -> list[str]:
    """The greetings the SaveGreeting activity wrote for ``instance_id`` through its blob output."""
    deadline = time.monotonic() + timeout_s
    async with BlobServiceClient.from_connection_string(connection_string) as blobs:
        container = blobs.get_container_client("greetings")
        while time.monotonic() < deadline:
            if await container.exists():
                async for item in container.list_blobs():
                    content = json.loads(await (await container.download_blob(item.name)).readall())
                    if content["id"] == instance_id:
                        assert item.name.endswith(".json") and len(item.name) == len("x" * 36 + ".json")
                        return list(content["greetings"])
            await asyncio.sleep(0.2)
    raise AssertionError(f"no greetings blob for {instance_id}")


async def test_http_start_through_the_legacy_client_binding_completes(
    v1_host: RunningHost, http: aiohttp.ClientSession, connection_string: str
) -> None:
    async with http.post(
        f"{v1_host.base_url}/api/orchestrators/HelloCities", json=["Oslo", "Lima"]
    ) as response:
        assert response.status == 202
        links = await response.json()
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["runtimeStatus"] == "Completed", final
    assert final["output"] == ["Hello Oslo!", "Hello Lima!"]
    assert await saved_greetings(connection_string, links["id"]) == ["Hello Oslo!", "Hello Lima!"]


async def test_the_entity_is_read_through_a_named_http_output(
    v1_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{v1_host.base_url}/api/orchestrators/HelloCities") as response:
        links = await response.json()
    assert (await poll_status(http, links["statusQueryGetUri"]))["runtimeStatus"] == "Completed"
    deadline = time.monotonic() + 15
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        async with http.get(f"{v1_host.base_url}/api/counters/greetings") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("application/json")
            body = await response.json()
        if body["exists"] and isinstance(body["value"], int) and body["value"] >= 3:
            break
        await asyncio.sleep(0.2)
    assert body["exists"] is True and isinstance(body["value"], int) and body["value"] >= 3
    assert body["note"] == "Hello counter!"


async def test_a_queue_message_starts_an_orchestration(
    v1_host: RunningHost, http: aiohttp.ClientSession, connection_string: str
) -> None:
    async with QueueServiceClient.from_connection_string(connection_string) as queues:
        queue = queues.get_queue_client("start-hello")
        with contextlib.suppress(ResourceExistsError):
            await queue.create_queue()
        sent = await queue.send_message(base64.b64encode(json.dumps(["Kyiv"]).encode()).decode())
    status_url = f"{v1_host.base_url}/runtime/webhooks/durabletask/instances/queued-{sent.id}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        async with http.get(status_url) as response:
            if response.status != 404:
                break
        await asyncio.sleep(0.2)
    final = await poll_status(http, status_url)
    assert final["runtimeStatus"] == "Completed", final
    assert final["output"] == ["Hello Kyiv!"]
