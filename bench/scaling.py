"""Throughput with 1, 2 and 3 worker processes on one task hub, beside the storage's own capacity.

Each worker is a separate ``durable-ext start`` process (the same thing ``--workers N`` starts), so the
figures include the partition leases and the cross-process hops. The storage floor rows measure
Azurite alone in the same run: with few cores, workers and Azurite compete for them, and these rows
show which of the two runs out first.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
from azure.data.tables.aio import TableClient

from bench.measure import process_cpu_s
from durable_ext.azurestorage.lease_blobs import OWNERSHIP
from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.core.client import TaskHubClient

HUB = "BenchHub"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_workers(app: Path, connection_string: str, count: int) -> list[tuple[subprocess.Popen[bytes], str]]:
    workers = []
    for index in range(count):
        port = _free_port()
        logs = os.environ.get("BENCH_WORKER_LOGS")  # a path prefix, to keep each worker's log
        with open(f"{logs}.{count}.{index}" if logs else os.devnull, "wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "durable_ext",
                    "start",
                    "--script-root",
                    str(app),
                    "--port",
                    str(port),
                ],
                env={**os.environ, "AzureWebJobsStorage": connection_string},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        workers.append((process, f"http://127.0.0.1:{port}"))
    return workers


async def wait_serving(base_urls: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        for url in base_urls:
            for _ in range(300):
                try:
                    async with http.get(f"{url}/runtime/webhooks/durabletask/instances/none"):
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)


def stop_workers(workers: list[tuple[subprocess.Popen[bytes], str]]) -> None:
    for process, _ in workers:
        os.killpg(process.pid, signal.SIGTERM)
    for process, _ in workers:
        process.wait(timeout=60)


async def wait_balanced(
    service: AzureStorageOrchestrationService, workers: int, timeout_s: float = 90
) -> None:
    """Until the queues are split evenly (the workers start at once, then steal toward an even split)."""
    deadline = time.monotonic() + timeout_s
    partitions = service.names.control_queues
    even = sorted(len(partitions) // workers + (i < len(partitions) % workers) for i in range(workers))
    while time.monotonic() < deadline:
        leases = await service.partitions.leases.read_all(OWNERSHIP, partitions)
        counts = Counter(lease.owner for lease in leases if lease.held)
        if sorted(counts.values()) == even:
            return
        await asyncio.sleep(0.5)


async def completed_count(table: TableClient, prefix: str) -> int:
    query = "PartitionKey ge @low and PartitionKey lt @high and RuntimeStatus eq 'Completed'"
    params = {"low": prefix, "high": prefix[:-1] + chr(ord(prefix[-1]) + 1)}
    return len([row async for row in table.query_entities(query, parameters=params, select=["PartitionKey"])])


async def operations_of(base_urls: list[str]) -> int:
    """The storage operations the workers have sent so far (their ``/metrics``)."""
    total = 0
    async with aiohttp.ClientSession() as http:
        for url in base_urls:
            async with http.get(f"{url}/runtime/webhooks/durabletask/metrics") as response:
                total += int((await response.json())["storageOperationsTotal"])
    return total


async def scaled_throughput(
    app: Path, connection_string: str, workers: int, total: int, steps: int, storage_pid: int | None = None
) -> tuple[int, float, float, float, int]:
    """``total`` chains of ``steps`` activities, started 50 at a time; (count, seconds until all
    completed, CPU seconds the workers spent, CPU seconds the storage emulator spent, storage operations
    of the workers and of the client starting the chains)."""
    running = start_workers(app, connection_string, workers)
    service = AzureStorageOrchestrationService(AzureStorageSettings(HUB, connection_string))
    client = TaskHubClient(service)
    table = TableClient.from_connection_string(connection_string, f"{HUB}Instances")
    try:
        await wait_serving([url for _, url in running])
        await wait_balanced(service, workers)

        async def run_chains(count: int) -> float:
            prefix = f"scale{workers}-{time.time_ns()}-"
            gate = asyncio.Semaphore(50)

            async def start(i: int) -> None:
                async with gate:
                    await client.start("chain", f'"{steps}"', f"{prefix}{i:05d}")

            began = time.perf_counter()
            await asyncio.gather(*(start(i) for i in range(count)))
            while await completed_count(table, prefix) < count:  # noqa: ASYNC110 (other processes)
                await asyncio.sleep(0.2)
            return time.perf_counter() - began

        await run_chains(4 * workers)  # warm up: every worker's pollers are awake, its app loaded
        urls = [url for _, url in running]
        cpu_before = sum(process_cpu_s(process.pid) for process, _ in running)
        storage_before = process_cpu_s(storage_pid)
        operations_before = await operations_of(urls) + service.clients.operations.total
        seconds = await run_chains(total)
        cpu = sum(process_cpu_s(process.pid) for process, _ in running) - cpu_before
        operations = await operations_of(urls) + service.clients.operations.total - operations_before
        return total, seconds, cpu, process_cpu_s(storage_pid) - storage_before, operations
    finally:
        await table.close()
        await service.close()
        stop_workers(running)
