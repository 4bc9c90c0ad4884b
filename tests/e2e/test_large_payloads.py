"""Inputs and outputs far over the queue and table limits travel through blobs and come back whole."""

from __future__ import annotations

import aiohttp
from azure.storage.blob.aio import BlobServiceClient

from .hosting import RunningHost
from .polling import poll_status

ONE_MB = "x" * (1024 * 1024)


async def test_a_1_mb_input_through_the_sdk_client(
    features_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    value = {"blob": ONE_MB, "n": 1}
    async with http.post(f"{features_host.base_url}/api/start/echo_input", json=value) as response:
        assert response.status == 202, await response.text()
        links = await response.json()
    final = await poll_status(http, links["statusQueryGetUri"], timeout_s=60)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == {"input": value, "echoed": value}


async def test_a_1_mb_input_through_the_public_api_with_history(
    features_host: RunningHost, http: aiohttp.ClientSession, connection_string: str
) -> None:
    base = f"{features_host.base_url}/runtime/webhooks/durabletask"
    async with http.post(f"{base}/orchestrators/echo_input/large-public-1", json={"big": ONE_MB}) as response:
        assert response.status == 202, await response.text()
    final = await poll_status(http, f"{base}/instances/large-public-1", timeout_s=60)
    assert final["input"] == {"big": ONE_MB}  # (a raw-HTTP input must be a JSON object for get_input)
    assert final["output"] == {"input": {"big": ONE_MB}, "echoed": {"big": ONE_MB}}
    url = f"{base}/instances/large-public-1?showHistory=true&showHistoryOutput=true"
    async with http.get(url) as response:
        history = (await response.json())["historyEvents"]
    completed = next(e for e in history if e["EventType"] == "TaskCompleted")
    assert completed["Result"] == {"big": ONE_MB}
    async with BlobServiceClient.from_connection_string(connection_string) as blobs:
        container = blobs.get_container_client("featureshub-largemessages")
        names = [b.name async for b in container.list_blobs(name_starts_with="large-public-1/")]
    assert any("-Input" in n for n in names) and any("message-" in n for n in names), names
