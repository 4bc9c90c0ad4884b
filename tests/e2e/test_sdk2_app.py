"""An app of the 2.x SDK (``samples/sdk2_app``) on `durable-ext start`, through the 2.x SDK's own client.

The host starts on this test's Python and runs the app on Python 3.13 in the environment it makes for
the 2.x SDK (once per machine), so the 1.x suite and this one share one Azurite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from durabletask import client

from .hosting import REPO_ROOT, RunningHost, free_port, start_host, stop_host, wait_until_serving
from .polling import poll_status

APP = REPO_ROOT / "samples" / "sdk2_app"
FIRST_START_S = 300.0
"""Time for the first start on a machine: it makes the 2.x SDK's environment (pip installs)."""


@pytest.fixture(scope="module")
async def sdk2_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    grpc_port = free_port()
    log_path = tmp_path_factory.mktemp("sdk2") / "host.log"
    host = start_host(APP, connection_string, log_path, {}, ("--grpc-port", str(grpc_port)))
    host.grpc_address = f"127.0.0.1:{grpc_port}"  # type: ignore[attr-defined]
    try:
        await wait_until_serving(host, timeout_s=FIRST_START_S)
        yield host
    finally:
        stop_host(host)


async def _start(
    http: aiohttp.ClientSession, host: RunningHost, name: str, body: Any = None
) -> dict[str, Any]:
    async with http.post(f"{host.base_url}/api/orchestrators/{name}", json=body) as response:
        assert response.status == 202, await response.text()
        links: dict[str, Any] = await response.json()
    return links


async def test_the_host_runs_the_app_on_the_2x_sdk(
    sdk2_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await _start(http, sdk2_host, "hello_cities")
    assert set(links) >= {
        "id",
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "purgeHistoryDeleteUri",
    }
    status = await poll_status(http, links["statusQueryGetUri"])
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert "asks for the 2.x SDK" in sdk2_host.log()
    assert "azure.functions.durable_functions" not in sdk2_host.log()


async def test_a_fan_out_and_an_external_event(sdk2_host: RunningHost, http: aiohttp.ClientSession) -> None:
    fanned = await _start(http, sdk2_host, "fan_out_fan_in", 4)
    waiting = await _start(http, sdk2_host, "approval", 60)
    status = await poll_status(http, fanned["statusQueryGetUri"])
    assert status["output"] == 0 + 1 + 4 + 9, status
    send = waiting["sendEventPostUri"].replace("{eventName}", "approve")
    for _ in range(100):  # until the orchestration waits (an event before its start is kept too)
        async with http.post(send, json="yes") as response:
            if response.status == 202:
                break
        await asyncio.sleep(0.1)
    status = await poll_status(http, waiting["statusQueryGetUri"])
    assert status["output"] == "approved: yes", status


async def test_entities_and_a_critical_section(sdk2_host: RunningHost, http: aiohttp.ClientSession) -> None:
    for key, amount in (("a", 7), ("b", 3)):
        async with http.post(f"{sdk2_host.base_url}/api/counters/{key}", data=str(amount)) as response:
            assert response.status == 202
    moved = await _start(http, sdk2_host, "moves_under_lock", ["a", "b"])
    status = await poll_status(http, moved["statusQueryGetUri"])
    assert status["runtimeStatus"] == "Completed" and status["output"] == 10, status
    async with http.get(f"{sdk2_host.base_url}/api/counters/a") as response:
        assert await response.text() == "0"


async def test_a_durabletask_client_reaches_the_same_hub_over_grpc(
    sdk2_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await _start(http, sdk2_host, "hello_cities")
    await poll_status(http, links["statusQueryGetUri"])
    address: str = sdk2_host.grpc_address  # type: ignore[attr-defined]
    with client.TaskHubGrpcClient(host_address=address, metadata=[("taskhub", "Sdk2SampleHub")]) as dt:
        state = await asyncio.to_thread(dt.get_orchestration_state, links["id"])
    assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.name == "hello_cities"
