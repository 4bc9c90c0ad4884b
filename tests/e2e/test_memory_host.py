"""`durable-ext start` on a memory task hub: no storage touched, said plainly, refused where it cannot."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from .hosting import REPO_ROOT, RunningHost, start_host, stop_host, wait_until_serving
from .polling import poll_status

WEBHOOKS = "/runtime/webhooks/durabletask"
NOWHERE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)
"""Storage that refuses every connection: a memory hub must never need it."""

APP = """
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):
    greetings = []
    for name in context.get_input():
        greetings.append((yield context.call_activity("hello", name)))
    return greetings


@app.activity_trigger(input_name="name")
def hello(name: str) -> str:
    return f"Hello {name}"


@app.timer_trigger(schedule="*/2 * * * * *", arg_name="timer")
@app.durable_client_input(client_name="client")
async def tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await client.start_new("greet", None, ["tick"])
"""


def write_app(root: Path, storage_type: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "function_app.py").write_text(APP)
    provider = f', "storageProvider": {{"type": "{storage_type}"}}' if storage_type else ""
    durable = f'{{"hubName": "MemoryHost"{provider}}}'
    (root / "host.json").write_text(f'{{"version": "2.0", "extensions": {{"durableTask": {durable}}}}}')
    return root


@pytest.fixture(scope="module")
async def memory_host(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningHost]:
    root = write_app(tmp_path_factory.mktemp("memory-app"))
    host = start_host(root, NOWHERE, root / "host.log", {}, ("--storage", "memory"))
    try:
        await wait_until_serving(host)
        yield host
    finally:
        stop_host(host)


async def test_runs_orchestrations_without_storage_and_says_nothing_is_durable(
    memory_host: RunningHost,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{memory_host.base_url}/api/start/greet", json=["Ada", "Linus"]) as response:
            assert response.status == 202, await response.text()
            links = await response.json()
        final = await poll_status(http, links["statusQueryGetUri"])
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == ["Hello Ada", "Hello Linus"]
    log = memory_host.log()
    assert "is in memory: nothing is durable" in log
    assert "Started Azurite" not in log


async def test_timer_triggers_run_without_a_storage_lock(memory_host: RunningHost) -> None:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 20
        started: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(started) < 2:
            async with http.get(f"{memory_host.base_url}{WEBHOOKS}/instances?top=100") as response:
                assert response.status == 200
                started = [i for i in await response.json() if "tick" in json.dumps(i["input"])]
            await asyncio.sleep(0.5)
    assert len(started) >= 2, memory_host.log()
    assert "lock" not in memory_host.log().lower()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable_ext", *args],
        cwd=str(REPO_ROOT),
        env={**os.environ, "AzureWebJobsStorage": NOWHERE, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_storage_provider_type_in_host_json_selects_memory(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", "Memory")
    host = start_host(root, NOWHERE, tmp_path / "host.log", {})
    try:
        await wait_until_serving(host)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{host.base_url}/api/start/greet", json=["Grace"]) as response:
                links = await response.json()
            final = await poll_status(http, links["statusQueryGetUri"])
        assert final["output"] == ["Hello Grace"]
        assert "nothing is durable" in host.log()
    finally:
        stop_host(host)


def test_an_unknown_provider_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", "mssql")
    result = run_cli("start", "--script-root", str(root), "--port", "0")
    assert result.returncode == 2
    assert "storageProvider.type is 'mssql'" in result.stderr
    assert "AzureStorage" in result.stderr and "Memory" in result.stderr


def test_workers_cannot_share_a_memory_hub(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app")
    result = run_cli(
        "start", "--script-root", str(root), "--port", "7999", "--workers", "2", "--storage", "memory"
    )
    assert result.returncode == 2
    assert "--workers cannot share a memory task hub" in result.stderr


def test_durable_commands_say_a_memory_hub_is_out_of_reach(tmp_path: Path) -> None:
    root = write_app(tmp_path / "app", "Memory")
    result = run_cli("durable", "get-instances", "--script-root", str(root))
    assert result.returncode == 2
    assert "'MemoryHost' is in memory" in result.stderr
    assert "HTTP management API" in result.stderr
