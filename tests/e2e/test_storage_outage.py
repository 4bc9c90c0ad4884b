"""Storage that is down, goes away mid-run, or refuses the key: every request answers in bounded time and
says why, the host waits for storage and starts its worker when it answers, and nothing accepted is lost.

The mid-run outage needs an Azurite that keeps its data across a restart, so that one runs with a
``--location`` in the test's temporary folder instead of in memory.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from durable_ext.azurestorage.connection import EMULATOR_ACCOUNT_NAME, emulator_connection_string
from durable_ext.host.azurite import AzuriteProcess
from durable_ext.host.child_process import free_ports

from .hosting import RunningHost, start_host, stop_host, wait_until_serving
from .polling import poll_status

APP = Path(__file__).parent / "apps" / "outage"
BUDGET_S = 3.0  # the app's host.json retryBudget
SLACK_S = 4.0
"""What a request may take beyond the budget: the answer itself, on a busy machine (the storage SDKs'
own retries, had a request been left to them, would wait 15 s before their first retry)."""
QUICK_S = BUDGET_S
"""What a request that never waits for storage (ping, host status) may take on a busy machine: less
than a request that waits out the budget."""
API = "/runtime/webhooks/durabletask"

pytestmark = pytest.mark.timeout(180)


async def _host(connection_string: str, hub: str, tmp_path: Path) -> RunningHost:
    host = start_host(APP, connection_string, tmp_path / "host.log", {"OUTAGE_HUB": hub})
    await wait_until_serving(host)
    return host


async def _timed(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, dict[str, str], Any, float]:
    began = time.monotonic()
    async with http.request(method, url, **kwargs) as response:
        body = await response.json(content_type=None) if response.content_length != 0 else None
        return response.status, dict(response.headers), body, time.monotonic() - began


async def _host_status(http: aiohttp.ClientSession, host: RunningHost) -> tuple[dict[str, Any], float]:
    """The host status and how long it took to answer."""
    status, _, body, took = await _timed(http, "GET", f"{host.base_url}/admin/host/status")
    assert status == 200
    return dict(body), took


async def _wait_for_state(
    http: aiohttp.ClientSession, host: RunningHost, state: str, timeout_s: float = 40.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        payload, _ = await _host_status(http, host)
        if payload["state"] == state:
            return payload
        if time.monotonic() > deadline:
            raise AssertionError(f"the host stayed {payload} instead of {state}:\n{host.log()}")
        await asyncio.sleep(0.5)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def test_unreachable_from_the_start_then_storage_arrives(
    http: aiohttp.ClientSession, hub_name: str, tmp_path: Path
) -> None:
    ports = free_ports(3)
    host = await _host(emulator_connection_string(*ports), hub_name, tmp_path)
    try:
        status, _, _, took = await _timed(http, "GET", f"{host.base_url}/admin/host/ping")
        assert (status, took < QUICK_S) == (200, True)
        await _wait_for_state(http, host, "Error", timeout_s=15)
        payload, took = await _host_status(http, host)
        assert took < QUICK_S, f"the host status took {took:.2f} s while storage was unreachable"
        storage = payload["durableTask"]["storage"]
        assert storage["reachable"] is False and storage["kind"] == "refused", payload
        assert str(ports[1]) in storage["endpoint"] and storage["setting"] == "AzureWebJobsStorage"
        assert payload["durableTask"]["workerStarted"] is False and payload["errors"]

        status, headers, body, took = await _timed(http, "POST", f"{host.base_url}{API}/orchestrators/chain")
        assert status == 503, body
        assert took < BUDGET_S + SLACK_S, f"the management API took {took:.1f} s"
        assert int(headers["Retry-After"]) > 0
        assert body["storage"]["kind"] == "refused" and "AzureWebJobsStorage" in body["Message"]
        assert str(ports[1]) in body["ExceptionMessage"]

        status, headers, body, took = await _timed(http, "POST", f"{host.base_url}/api/start/chain", json=2)
        assert status == 503, body
        assert took < BUDGET_S + SLACK_S, f"the HTTP starter took {took:.1f} s"
        assert "Retry-After" in headers
        assert "Function 'http_start' failed" in body["error"] and "AzureWebJobsStorage" in body["error"]
        assert "TimeoutError" not in body["error"]

        async with AzuriteProcess(*ports):
            await _wait_for_state(http, host, "Running")
            status, _, body, _ = await _timed(http, "POST", f"{host.base_url}/api/start/chain", json=3)
            assert status == 202, body
            done = await poll_status(http, body["statusQueryGetUri"])
            assert (done["runtimeStatus"], done["output"]) == ("Completed", 6)
            log = host.log()
            waiting = [
                line for line in log.splitlines() if "the task hub worker starts when it answers" in line
            ]
            assert waiting, log
            assert "answers: the task hub worker started" in log
            assert "Creating task hub" not in log, "single retries are folded into the storage watch's lines"
    finally:
        stop_host(host)


async def test_storage_stopped_for_20_s_in_a_run(
    http: aiohttp.ClientSession, hub_name: str, tmp_path: Path
) -> None:
    ports = free_ports(3)
    location = tmp_path / "azurite"
    azurite = AzuriteProcess(*ports, location=location)
    await azurite.start()
    host = await _host(azurite.connection_string, hub_name, tmp_path)
    accepted: list[str] = []
    slowest = 0.0
    refused = 0

    async def start_one(count: int) -> None:
        nonlocal slowest, refused
        status, _, body, took = await _timed(http, "POST", f"{host.base_url}/api/start/chain", json=count)
        slowest = max(slowest, took)
        if status == 202:
            accepted.append(body["statusQueryGetUri"])
        else:
            assert status == 503, body
            refused += 1

    try:
        await _wait_for_state(http, host, "Running")
        await asyncio.gather(*(start_one(4) for _ in range(10)))
        assert len(accepted) == 10
        await azurite.stop()
        outage_ends = time.monotonic() + 20
        while time.monotonic() < outage_ends:
            await asyncio.gather(*(start_one(4) for _ in range(3)))
            status, _, _, took = await _timed(http, "GET", f"{host.base_url}/admin/host/status")
            assert status == 200 and took < QUICK_S, f"the host status took {took:.2f} s"
        assert refused > 0, "no start was refused while storage was down"
        azurite = AzuriteProcess(*ports, location=location)
        await azurite.start()
        await _wait_for_state(http, host, "Running")
        await asyncio.gather(*(start_one(4) for _ in range(5)))
        assert slowest < BUDGET_S + SLACK_S, f"a request waited {slowest:.1f} s"
        results = await asyncio.gather(*(poll_status(http, uri, timeout_s=90) for uri in accepted))
        assert [r["runtimeStatus"] for r in results] == ["Completed"] * len(accepted)
        assert [r["output"] for r in results] == [10] * len(accepted)
    finally:
        stop_host(host)
        await azurite.stop()


async def test_a_wrong_account_key_is_reported_once(
    http: aiohttp.ClientSession, azurite: AzuriteProcess, hub_name: str, tmp_path: Path
) -> None:
    wrong = base64.b64encode(b"not the key of this account").decode()
    connection = azurite.connection_string.replace(
        azurite.connection_string.split("AccountKey=")[1].split(";")[0], wrong
    )
    host = await _host(connection, hub_name, tmp_path)
    try:
        payload = await _wait_for_state(http, host, "Error", timeout_s=20)
        assert payload["durableTask"]["storage"]["kind"] == "auth", payload
        status, headers, body, took = await _timed(http, "GET", f"{host.base_url}{API}/instances")
        assert status == 503 and "Retry-After" in headers
        assert took < BUDGET_S + SLACK_S
        assert "AccountKey" in body["Message"] and body["storage"]["kind"] == "auth"
        await asyncio.sleep(6)  # a retry loop would say it again by now
        assert host.log().count("refused the credentials") == 1, host.log()
    finally:
        stop_host(host)


async def test_a_malformed_account_key_stops_the_host_with_what_to_fix(
    azurite: AzuriteProcess, hub_name: str, tmp_path: Path
) -> None:
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT_NAME};AccountKey=abc;"
        f"QueueEndpoint=http://127.0.0.1:{azurite.queue_port}/{EMULATOR_ACCOUNT_NAME}"
    )
    host = start_host(APP, connection, tmp_path / "host.log", {"OUTAGE_HUB": hub_name})
    try:
        assert await asyncio.to_thread(host.process.wait, 30) == 2
        log = host.log()
        assert "AccountKey" in log and "AzureWebJobsStorage" in log and "base64" in log, log
        assert "Traceback" not in log
    finally:
        stop_host(host)
