"""The timer trigger through `durable-ext start` (app: tests/e2e/apps/timers).

Two hosts share one host id, so one schedule: every occurrence runs once, none is skipped, and when
the worker running it is killed the other takes the schedule over. A schedule status left by an
earlier run whose next occurrence has passed makes the timer run once at start with ``past_due``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from .conftest import APPS
from .hosting import RunningHost, start_host, stop_host, wait_until_serving

APP = APPS / "timers"


class Drain:
    """Every message of one queue, read and deleted as they come."""

    def __init__(self, connection_string: str, queue: str) -> None:
        self.connection_string = connection_string
        self.queue = queue
        self.items: list[dict[str, Any]] = []

    async def until(self, count: int, timeout_s: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        async with QueueServiceClient.from_connection_string(self.connection_string) as service:
            client = service.get_queue_client(self.queue)
            while len(self.items) < count and time.monotonic() < deadline:
                with contextlib.suppress(ResourceNotFoundError):
                    async for message in client.receive_messages(max_messages=32):
                        self.items.append(json.loads(base64.b64decode(str(message.content))))
                        await client.delete_message(message)
                await asyncio.sleep(0.2)
        return self.items


def env(host_id: str, **values: str) -> dict[str, str]:
    return {
        "AzureFunctionsWebHost__hostid": host_id,
        "TICK_SCHEDULE": "*/2 * * * * *",
        "TICK_QUEUE": f"ticks-{host_id}",
        "HOURLY_QUEUE": f"hourly-{host_id}",
        **values,
    }


@pytest.fixture
async def hosts(tmp_path: Path) -> AsyncIterator[list[RunningHost]]:
    started: list[RunningHost] = []
    yield started
    for host in started:
        stop_host(host)


async def test_two_hosts_share_one_schedule_and_hand_it_over(
    connection_string: str, hosts: list[RunningHost], tmp_path: Path
) -> None:
    host_id = "t" + uuid.uuid4().hex[:12]
    for n in range(2):
        hosts.append(start_host(APP, connection_string, tmp_path / f"host{n}.log", env(host_id)))
    await asyncio.gather(*(wait_until_serving(h) for h in hosts))
    drain = Drain(connection_string, f"ticks-{host_id}")
    ticks = await drain.until(6, timeout_s=30)
    assert len(ticks) >= 6, ticks
    seconds = sorted(t["tick"] for t in ticks)
    assert len(seconds) == len(set(seconds)), f"an occurrence ran twice: {seconds}"
    assert all(b - a == 2 for a, b in itertools.pairwise(seconds)), f"one was skipped: {seconds}"
    holders = {t["pid"] for t in ticks}
    assert len(holders) == 1
    holder = next(h for h in hosts if h.process.pid in holders)
    os.killpg(holder.process.pid, signal.SIGKILL)
    holder.process.wait()
    survivor = next(h for h in hosts if h is not holder)
    before = len(drain.items)
    await drain.until(before + 2, timeout_s=30)  # the lease expires after 15 s, then the survivor runs it
    taken_over = [t for t in drain.items[before:] if t["pid"] == survivor.process.pid]
    assert len(taken_over) >= 1, drain.items[before:]
    assert "this worker runs the schedule" in survivor.log()


async def test_a_missed_occurrence_runs_once_past_due_at_start(
    connection_string: str, hosts: list[RunningHost], tmp_path: Path
) -> None:
    host_id = "t" + uuid.uuid4().hex[:12]
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    status = {
        "Last": last.isoformat(),
        "Next": (last + timedelta(hours=1)).isoformat(),
        "LastUpdated": last.isoformat(),
    }
    async with BlobServiceClient.from_connection_string(connection_string) as blobs:
        container = blobs.get_container_client("azure-webjobs-hosts")
        with contextlib.suppress(Exception):
            await container.create_container()
        await container.upload_blob(f"timers/{host_id}/Host.Functions.hourly/status", json.dumps(status))
        hosts.append(start_host(APP, connection_string, tmp_path / "host.log", env(host_id)))
        await wait_until_serving(hosts[0])
        runs = await Drain(connection_string, f"hourly-{host_id}").until(1, timeout_s=20)
        assert len(runs) == 1 and runs[0]["past_due"] is True
        assert runs[0]["last"] is not None and runs[0]["last"].startswith(last.isoformat()[:19])
        await asyncio.sleep(2)
        assert len(await Drain(connection_string, f"hourly-{host_id}").until(1, timeout_s=1)) == 0
        written = json.loads(
            await (await container.download_blob(f"timers/{host_id}/Host.Functions.hourly/status")).readall()
        )
    assert datetime.fromisoformat(written["Next"]) > datetime.now(UTC)
