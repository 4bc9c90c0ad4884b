"""The storage and timer bindings in the v1 model (tests/e2e/apps/v1_bindings: function.json folders)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from .conftest import APPS, serve
from .hosting import RunningHost


@pytest.fixture(scope="module")
async def v1_bindings(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    async for host in serve(APPS / "v1_bindings", connection_string, tmp_path_factory):
        yield host


async def received(connection_string: str, queue: str, timeout_s: float = 15) -> str:
    """The decoded text of the next message of ``queue`` (which it deletes)."""
    deadline = time.monotonic() + timeout_s
    async with QueueServiceClient.from_connection_string(connection_string) as queues:
        client = queues.get_queue_client(queue)
        while time.monotonic() < deadline:
            with contextlib.suppress(ResourceNotFoundError):
                async for message in client.receive_messages(max_messages=1):
                    await client.delete_message(message)
                    return base64.b64decode(str(message.content)).decode()
            await asyncio.sleep(0.1)
    raise AssertionError(f"no message on {queue} in {timeout_s} s")


async def test_a_queue_trigger_returns_to_a_queue_output(
    v1_bindings: RunningHost, connection_string: str
) -> None:
    async with QueueServiceClient.from_connection_string(connection_string) as queues:
        client = queues.get_queue_client("v1-in")
        with contextlib.suppress(ResourceExistsError):
            await client.create_queue()
        await client.send_message(base64.b64encode(b"ping").decode())
    assert await received(connection_string, "v1-out") == "relayed ping (dequeue count 1)"


async def test_a_blob_trigger_copies_to_a_blob_output_read_back_by_a_blob_input(
    v1_bindings: RunningHost, connection_string: str, http: aiohttp.ClientSession
) -> None:
    async with BlobServiceClient.from_connection_string(connection_string) as blobs:
        container = blobs.get_container_client("v1-inbox")
        with contextlib.suppress(ResourceExistsError):
            await container.create_container()
        await container.upload_blob("note.txt", b"hello", overwrite=True)
    deadline = time.monotonic() + 20
    status, text = 0, ""
    while time.monotonic() < deadline:
        async with http.get(f"{v1_bindings.base_url}/api/blobs/note.txt") as response:
            status, text = response.status, await response.text()
        if status == 200:
            break
        assert (status, text) == (404, "no such blob")
        await asyncio.sleep(0.2)
    assert (status, text) == (200, "v1-inbox/note.txt (5 bytes): HELLO")


async def test_a_table_output_and_a_table_input_by_route_keys(
    v1_bindings: RunningHost, http: aiohttp.ClientSession
) -> None:
    url = f"{v1_bindings.base_url}/api/rows/fruit/apple"
    async with http.get(url) as response:
        assert response.status == 404
    async with http.post(url, json={"colour": "green", "weight": 150}) as response:
        assert response.status == 201, await response.text()
    async with http.get(url) as response:
        assert response.status == 200
        row = json.loads(await response.text())
    assert row["PartitionKey"] == "fruit" and row["RowKey"] == "apple"
    assert (row["colour"], row["weight"]) == ("green", 150)


async def test_a_timer_writes_to_a_queue_output(v1_bindings: RunningHost, connection_string: str) -> None:
    ticks = [json.loads(await received(connection_string, "v1-ticks", timeout_s=10)) for _ in range(2)]
    assert all(set(tick) == {"past_due"} and isinstance(tick["past_due"], bool) for tick in ticks)
    assert "Skipping function" not in v1_bindings.log(), v1_bindings.log()
