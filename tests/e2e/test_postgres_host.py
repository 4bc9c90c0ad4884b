"""`durable-ext start` with the task hub in PostgreSQL: the repository's sample app, unchanged, with only
``storageProvider`` in host.json changed; and the start-up errors a bad connection gives."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from .hosting import REPO_ROOT, RunningHost, start_host, stop_host, wait_until_serving
from .polling import poll_status
from .test_memory_host import run_cli

HUB = "PgSamples"


def postgres_app(root: Path, connection_name: str = "PG", **settings: object) -> Path:
    """The sample app (its function_app.py and samples package as they are) with a host.json that puts
    the task hub in PostgreSQL (``settings``: more ``storageProvider`` keys)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "function_app.py", root / "function_app.py")
    (root / "samples").symlink_to(REPO_ROOT / "samples")
    provider = {
        "type": "postgres",
        "connectionStringName": connection_name,
        "schemaName": "samples",
        **settings,
    }
    host_json = {
        "version": "2.0",
        "extensions": {"durableTask": {"hubName": HUB, "storageProvider": provider}},
    }
    (root / "host.json").write_text(json.dumps(host_json))
    return root


async def serve_postgres_app(root: Path, connection_string: str, dsn: str) -> AsyncIterator[RunningHost]:
    """`durable-ext start` on an app made by :func:`postgres_app`, its ``PG`` setting pointing at ``dsn``."""
    host = start_host(root, connection_string, root / "host.log", {"PG": dsn})
    try:
        await wait_until_serving(host)
        yield host
    finally:
        stop_host(host)


@pytest.fixture(scope="module")
async def pg_host(
    connection_string: str, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    root = postgres_app(tmp_path_factory.mktemp("pg-app") / "app")
    async for host in serve_postgres_app(root, connection_string, postgres_dsn):
        yield host


async def test_the_sample_app_runs_on_postgres(pg_host: RunningHost, postgres_dsn: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{pg_host.base_url}/api/orchestrators/hello_cities") as response:
            assert response.status == 202, await response.text()
            links = await response.json()
        final = await poll_status(http, links["statusQueryGetUri"])
        assert final["runtimeStatus"] == "Completed"
        assert final["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
        status_url = links["statusQueryGetUri"]
        joiner = "&" if "?" in status_url else "?"
        async with http.get(f"{status_url}{joiner}showHistory=true") as response:
            history = (await response.json())["historyEvents"]
        assert history[0]["EventType"] == "ExecutionStarted"
    conn = await asyncpg.connect(postgres_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT RuntimeStatus, Name FROM samples.Instances WHERE TaskHub = $1 AND InstanceID = $2",
            HUB.lower(),
            final["instanceId"],
        )
        events = await conn.fetchval(
            "SELECT count(*) FROM samples.History WHERE TaskHub = $1 AND InstanceID = $2 "
            "AND EventType = 'TaskCompleted'",
            HUB.lower(),
            final["instanceId"],
        )
    finally:
        await conn.close()
    assert (row["runtimestatus"], row["name"]) == ("Completed", "hello_cities")
    assert events == 3  # one per city


async def test_entities_and_fan_out_run_on_postgres(pg_host: RunningHost) -> None:
    async with aiohttp.ClientSession() as http:
        for amount in (5, 7):
            async with http.post(f"{pg_host.base_url}/api/counters/pg/add", json=amount) as response:
                assert response.status == 202
        value = None
        for _ in range(100):
            async with http.get(f"{pg_host.base_url}/api/counters/pg") as response:
                if response.status == 200:
                    value = await response.json()
                    if value == 12:
                        break
            await asyncio.sleep(0.1)
        assert value == 12
        async with http.post(f"{pg_host.base_url}/api/orchestrators/fan_out_fan_in", json=10) as response:
            links = await response.json()
        final = await poll_status(http, links["statusQueryGetUri"])
        assert final["output"] == {"count": 10, "sum_of_squares": 385}


def test_a_missing_connection_setting_is_named_at_start_up(tmp_path: Path, connection_string: str) -> None:
    root = postgres_app(tmp_path / "app", connection_name="NoSuchSetting")
    result = run_cli(
        "start", "--script-root", str(root), "--port", "0", env={"AzureWebJobsStorage": connection_string}
    )
    assert result.returncode != 0
    assert "PostgreSQL connection setting 'NoSuchSetting' is not set" in result.stderr + result.stdout


def test_an_unreachable_server_is_named_at_start_up(tmp_path: Path, connection_string: str) -> None:
    root = postgres_app(tmp_path / "app")
    env = {"AzureWebJobsStorage": connection_string, "PG": "postgresql://durable@127.0.0.1:9/nowhere"}
    result = run_cli("start", "--script-root", str(root), "--port", "0", env=env)
    output = result.stderr + result.stdout
    assert result.returncode != 0, output
    assert "Cannot connect to PostgreSQL at 127.0.0.1:9/nowhere" in output
    assert "'PG'" in output


async def test_the_durable_cli_reads_a_postgres_hub(
    pg_host: RunningHost, postgres_dsn: str, connection_string: str, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{pg_host.base_url}/api/orchestrators/hello_cities") as response:
            links = await response.json()
        await poll_status(http, links["statusQueryGetUri"])
    root = postgres_app(tmp_path / "cli-app")
    env = {"PG": postgres_dsn, "AzureWebJobsStorage": connection_string}
    args = ("durable", "get-runtime-status", "--id", links["id"], "--show-output", "--json")
    result = await asyncio.to_thread(run_cli, *args, "--script-root", str(root), env=env)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
