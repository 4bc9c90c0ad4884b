"""Chaos on a PostgreSQL task hub: three worker processes share it, two are killed with SIGKILL while 250
orchestrations run, and the database restarts in the middle. Every instance must complete with
the right output, and no history may hold a task scheduled twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import aiohttp
import asyncpg

from durable_ext.host.postgres_server import PostgresServer

from .hosting import RunningHost, start_host, stop_host, wait_until_serving
from .test_postgres_host import HUB, postgres_app

CHAINS = 200
FAN_OUTS = 50
CITIES = ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def _kill(host: RunningHost) -> None:
    os.killpg(host.process.pid, signal.SIGKILL)
    host.process.wait()


async def _start(http: aiohttp.ClientSession, base_url: str, numbers: range) -> dict[str, str]:
    """Start orchestrations through one worker (chains first, then fan-outs); instance id -> orchestrator."""
    started: dict[str, str] = {}
    for n in numbers:
        name = "hello_cities" if n % (CHAINS + FAN_OUTS) < CHAINS else "fan_out_fan_in"
        body = None if name == "hello_cities" else 10
        async with http.post(f"{base_url}/api/orchestrators/{name}", json=body) as response:
            assert response.status == 202, await response.text()
            started[(await response.json())["id"]] = name
    return started


async def _finished(dsn: str, ids: list[str]) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(
            await conn.fetch(
                "SELECT InstanceID, RuntimeStatus, Output FROM samples.Instances WHERE TaskHub = $1 "
                "AND InstanceID = ANY($2) AND RuntimeStatus IN ('Completed', 'Failed', 'Terminated')",
                HUB.lower(),
                ids,
            )
        )
    finally:
        await conn.close()


async def _scheduled_twice(dsn: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(
            await conn.fetch(
                "SELECT InstanceID, TaskID, count(*) FROM samples.History WHERE TaskHub = $1 "
                "AND EventType = 'TaskScheduled' GROUP BY InstanceID, ExecutionID, TaskID "
                "HAVING count(*) > 1",
                HUB.lower(),
            )
        )
    finally:
        await conn.close()


async def test_killed_workers_and_a_database_restart_lose_nothing(
    connection_string: str, tmp_path: Path
) -> None:
    async with PostgresServer() as server:
        root = postgres_app(tmp_path / "app", taskEventLockTimeout="00:00:05")
        env = {"PG": server.dsn}
        hosts = [start_host(root, connection_string, tmp_path / f"host{n}.log", env) for n in range(3)]
        try:
            for host in hosts:
                await wait_until_serving(host)
            total = CHAINS + FAN_OUTS
            async with aiohttp.ClientSession() as http:
                # chains and fan-outs alike in both halves: the kills come while both kinds run
                half = range(0, total, 2)
                started = await asyncio.wait_for(_start(http, hosts[0].base_url, half), 60)
                unfinished = len(started) - len(await _finished(server.dsn, list(started)))
                _kill(hosts[1])  # in the middle of the work: its locks expire and the others take it up
                started |= await asyncio.wait_for(_start(http, hosts[0].base_url, range(1, total, 2)), 60)
            await server.restart()  # every worker loses its connections at once
            _kill(hosts[2])
            hosts[1] = start_host(root, connection_string, tmp_path / "host1b.log", env)
            await wait_until_serving(hosts[1])
            assert unfinished > 0  # the first kill came while work was running
            ids = list(started)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 120
            finished: list[asyncpg.Record] = []
            while loop.time() < deadline:
                finished = await _finished(server.dsn, ids)
                if len(finished) == len(ids):
                    break
                await asyncio.sleep(0.5)
            assert len(finished) == len(ids), f"{len(ids) - len(finished)} instances never finished"
            for row in finished:
                assert row["runtimestatus"] == "Completed", row
                output = json.loads(row["output"])
                if started[row["instanceid"]] == "hello_cities":
                    assert output == CITIES
                else:
                    assert output == {"count": 10, "sum_of_squares": 385}
            assert await _scheduled_twice(server.dsn) == []
        finally:
            for host in hosts:
                if host.process.poll() is None:
                    stop_host(host)
