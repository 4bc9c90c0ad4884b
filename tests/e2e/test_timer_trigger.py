"""The timer trigger through `durable-ext start` (app: tests/e2e/apps/timers).

Two hosts share one host id, so one schedule: every occurrence runs once, none is skipped, and when
the worker running it is killed the other takes the schedule over. A schedule status left by an
earlier run whose next occurrence has passed makes the timer run once at start with ``past_due``;
``runOnStartup`` runs a timer once each time a worker takes its schedule; a clean stop releases the
locks, and an invalid schedule is refused at indexing.
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
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from .conftest import APPS
from .hosting import RunningHost, start_host, stop_host, wait_until_serving

APP = APPS / "timers"
HOSTS = "azure-webjobs-hosts"


class Drain:
    """Every message of one queue, read and deleted as they come."""

    def __init__(self, connection_string: str, queue: str) -> None:
        self.connection_string = connection_string
        self.queue = queue
        self.items: list[dict[str, Any]] = []

    async def until(self, count: int, timeout_s: float) -> list[dict[str, Any]]:
        """Read until ``count`` messages in all have come or ``timeout_s`` passed; all read so far."""
        deadline = time.monotonic() + timeout_s
        async with QueueServiceClient.from_connection_string(self.connection_string) as service:
            client = service.get_queue_client(self.queue)
            while True:
                with contextlib.suppress(ResourceNotFoundError):
                    async for message in client.receive_messages(max_messages=32):
                        self.items.append(json.loads(base64.b64decode(str(message.content))))
                        await client.delete_message(message)
                if len(self.items) >= count or time.monotonic() >= deadline:
                    return self.items
                await asyncio.sleep(0.2)


def env(host_id: str) -> dict[str, str]:
    return {
        "AzureFunctionsWebHost__hostid": host_id,
        "TICK_SCHEDULE": "*/2 * * * * *",
        "BROKEN_SCHEDULE": "0 0 25 * * *",
        "TICK_QUEUE": f"ticks-{host_id}",
        "HOURLY_QUEUE": f"hourly-{host_id}",
        "STARTUP_QUEUE": f"startup-{host_id}",
    }


@pytest.fixture
async def hosts() -> AsyncIterator[list[RunningHost]]:
    started: list[RunningHost] = []
    yield started
    for host in started:
        stop_host(host)


LATE_S = 1.0  # how late a run may start after its occurrence on a loaded machine


def assert_whole_ticks_each_once(ticks: list[float]) -> None:
    """Each run (its time when it ran) starts on an occurrence of the schedule, never early and at
    most ``LATE_S`` late; no occurrence runs twice and none between the first and last is skipped."""
    slots = [int(t // 2) for t in ticks]  # the occurrence (an even second) each run belongs to
    late = [round(t - 2 * slot, 3) for t, slot in zip(ticks, slots, strict=True)]
    assert all(s < LATE_S for s in late), f"not on the schedule's ticks (late by {late} s): {ticks}"
    assert len(slots) == len(set(slots)), f"an occurrence ran twice: {ticks}"
    assert all(b - a == 1 for a, b in itertools.pairwise(sorted(slots))), f"one was skipped: {ticks}"


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
    holders = {t["pid"] for t in ticks}
    assert len(holders) == 1, f"both hosts ran the schedule: {ticks}"
    assert_whole_ticks_each_once([t["tick"] for t in ticks])
    assert not any(t["past_due"] for t in ticks)
    startups = await Drain(connection_string, f"startup-{host_id}").until(2, timeout_s=0.5)
    assert len(startups) == 1, f"runOnStartup ran on both hosts of one host id: {startups}"

    holder = next(h for h in hosts if h.process.pid in holders)
    survivor = next(h for h in hosts if h is not holder)
    os.killpg(holder.process.pid, signal.SIGKILL)
    holder.process.wait()
    killed_at = time.time()
    last_of_holder = max(t["tick"] for t in drain.items)
    before = len(drain.items)
    # the holder's lease (15 s) runs out, then the survivor (retrying every second) runs the schedule
    await drain.until(before + 3, timeout_s=30)
    after = drain.items[before:]
    taken_over = [t for t in after if t["pid"] == survivor.process.pid]
    assert len(taken_over) >= 2, f"the survivor did not take the schedule over: {after}"
    assert not [t for t in after if t["pid"] == holder.process.pid and t["tick"] > killed_at + 1]
    ticks_after = [t["tick"] for t in taken_over]
    assert min(ticks_after) > last_of_holder
    assert_whole_ticks_each_once(ticks_after)
    assert "holds the lock" in survivor.log()


async def seed_status(blobs: BlobServiceClient, host_id: str, status: dict[str, str]) -> None:
    container = blobs.get_container_client(HOSTS)
    with contextlib.suppress(ResourceExistsError):
        await container.create_container()
    blob = f"timers/{host_id}/Host.Functions.hourly/status"
    await container.upload_blob(blob, json.dumps(status), overwrite=True)


async def test_a_missed_occurrence_runs_once_past_due_and_a_clean_stop_hands_the_locks_back(
    connection_string: str, hosts: list[RunningHost], tmp_path: Path
) -> None:
    host_id = "t" + uuid.uuid4().hex[:12]
    # the app ran at 3 h ago on the hour and was down when the next hour came
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    seeded = {
        "Last": last.isoformat(),
        "Next": (last + timedelta(hours=1)).isoformat(),
        "LastUpdated": last.isoformat(),
    }
    hourly = Drain(connection_string, f"hourly-{host_id}")
    startup = Drain(connection_string, f"startup-{host_id}")
    async with BlobServiceClient.from_connection_string(connection_string) as blobs:
        await seed_status(blobs, host_id, seeded)
        hosts.append(start_host(APP, connection_string, tmp_path / "host.log", env(host_id)))
        await wait_until_serving(hosts[0])
        runs = await hourly.until(1, timeout_s=20)
        assert len(runs) == 1 and runs[0]["past_due"] is True
        assert runs[0]["last"] == seeded["Last"] and runs[0]["next"] == seeded["Next"]
        assert len(await startup.until(1, timeout_s=10)) == 1
        assert startup.items[0] == {"pid": hosts[0].process.pid, "past_due": False, "status": {}}
        assert len(await hourly.until(2, timeout_s=2)) == 1, "the missed occurrences ran more than once"
        status_blob = blobs.get_blob_client(HOSTS, f"timers/{host_id}/Host.Functions.hourly/status")
        written = json.loads(await (await status_blob.download_blob()).readall())
        assert datetime.fromisoformat(written["Next"]) > datetime.now(UTC)
        assert datetime.now(UTC) - datetime.fromisoformat(written["Last"]) < timedelta(seconds=30)
        log = hosts[0].log()
        assert "Skipping function 'broken'" in log and "'0 0 25 * * *'" in log and "'0 */5 * * * *'" in log

        stop_host(hosts[0])  # a clean stop releases every timer's lock at once
        for name in ("hourly", "at_startup", "every_two_seconds"):
            lock = blobs.get_blob_client(HOSTS, f"locks/{host_id}/Host.Functions.{name}.Listener")
            assert (await lock.get_blob_properties()).lease.state == "available", name

        hosts.append(start_host(APP, connection_string, tmp_path / "again.log", env(host_id)))
        await wait_until_serving(hosts[1])
        assert len(await startup.until(2, timeout_s=10)) == 2  # runOnStartup runs on every start
        assert startup.items[1]["pid"] == hosts[1].process.pid
        assert len(await hourly.until(2, timeout_s=2)) == 1, "up to date: nothing is past due any more"
