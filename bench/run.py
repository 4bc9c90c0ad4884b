"""Benchmarks: durable-ext on a private Azurite, next to the storage's own capacity, in one run.

    make bench                        # the full run, about 10 minutes
    .venv/bin/python -m bench.run --quick   # the short form CI runs

Writes bench/results.md (a table with the targets) and bench/results.json, and prints the table.
Every figure comes from this run on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from azure.storage.queue.aio import QueueClient

from bench.measure import Meter, Row
from bench.peers.runner import missing, peer_rows
from bench.progress import Progress
from bench.report import environment, render_json, render_markdown, targets
from bench.scaling import scaled_throughput
from bench.scenarios import InProcess
from bench.storage_probe import capacity_probe
from durable_ext.host.azurite import AzuriteProcess
from durable_ext.host.host import FunctionsHost
from durable_ext.host.logs import configure_logging

BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Sizes:
    probe_rounds: int
    latency_runs: int
    chains: int
    fan_outs: tuple[int, ...]
    sequence: int
    events: int
    signals: int
    calls: int
    idle_s: float
    workers: tuple[int, ...]
    scaled_chains: int
    scaled_repeats: int


FULL = Sizes(1000, 100, 1000, (100, 1000), 100, 100, 1000, 50, 300, (1, 2, 3), 300, 2)
QUICK = Sizes(30, 6, 20, (20,), 6, 6, 25, 3, 2, (1, 2), 16, 1)


async def queue_floor(connection_string: str, total: int, in_flight: int, progress: Progress) -> Row:
    """B0: a queue message sent, received (32 at a time) and deleted, senders and receiver at once: the
    storage floor of an entity signal."""
    progress.start("B0 queue send + receive + delete", total)
    queue = QueueClient.from_connection_string(connection_string, f"floor{time.time_ns()}")
    async with queue:
        await queue.create_queue()
        gate = asyncio.Semaphore(in_flight)

        async def send(i: int) -> None:
            async with gate:
                await queue.send_message(str(i))

        async def drain() -> None:
            received = 0
            while received < total:
                batch = [m async for m in queue.receive_messages(messages_per_page=32, max_messages=32)]
                await asyncio.gather(*(queue.delete_message(m) for m in batch))
                received += len(batch)
                progress.advance(len(batch))

        with Meter(None, None) as meter:
            await asyncio.gather(drain(), *(send(i) for i in range(total)))
        await queue.delete_queue()
    progress.finish()
    return meter.row("B0-q", "queue message sent, received and deleted, concurrently", total, unit="messages")


async def probe(azurite: AzuriteProcess, rounds: int, progress: Progress) -> Row:
    progress.start("B0 storage capacity probe", rounds)
    with Meter(None, azurite.pid) as meter:
        operations, _ = await capacity_probe(azurite.connection_string, rounds, advance=progress.advance)
    progress.finish()
    row = meter.row("B0", "storage capacity: episode-like mix, same SDK, 32 concurrent", operations)
    row.unit = "operations"
    return row


Scenarios = Callable[[InProcess], Awaitable[list[Row]]]


async def on_fresh_storage(sizes: Sizes, progress: Progress, scenarios: Scenarios) -> list[Row]:
    """Run ``scenarios`` against a host in this process, on an Azurite of their own.

    Each group of heavy scenarios gets a new Azurite: its queue service sweeps the extents of deleted
    messages every 60 s, in time that grows with the square of their number, and after ten thousand
    messages a sweep stops it for minutes (an emulator artifact; Azure Storage has no such pause).
    """
    async with AzuriteProcess() as azurite:
        os.environ["AzureWebJobsStorage"] = azurite.connection_string  # noqa: SIM112 (the Functions name)
        host = FunctionsHost(BENCH_DIR / "app", port=0)
        await host.start()
        try:
            bench = InProcess(host, azurite.pid, progress)
            for _ in range(3):  # warm up: app imported, connections open
                await bench.run("chain", 1, f"warm-{time.time_ns()}")
            return await scenarios(bench)
        finally:
            await host.stop()


async def latency_and_chains_of_3(bench: InProcess, sizes: Sizes) -> list[Row]:
    return [
        await bench.latency("B1-1", 1, sizes.latency_runs),
        await bench.latency("B1-3", 3, sizes.latency_runs),
        await bench.throughput("B3", 3, sizes.chains, 50),
    ]


async def chains_of_5(bench: InProcess, sizes: Sizes) -> list[Row]:
    return [await bench.throughput("B2", 5, sizes.chains, 50)]


async def single_instance_scenarios(bench: InProcess, sizes: Sizes) -> list[Row]:
    rows = [await bench.fan_out(f"B4-{width}", width) for width in sizes.fan_outs]
    rows += [
        await bench.sequence("B5", sizes.sequence),
        await bench.events("B6", sizes.events),
        await bench.entity_signals("B7", sizes.signals),
        await bench.entity_calls("B7-calls", sizes.calls),
        await bench.first_start_after_idle("B8", sizes.idle_s),
    ]
    return rows


async def scaling(sizes: Sizes, progress: Progress) -> list[Row]:
    rows = []
    for workers in sizes.workers:
        rows.append(await scaled(sizes, progress, workers))
    return rows


async def scaled(sizes: Sizes, progress: Progress, workers: int) -> Row:
    """B10 with ``workers`` processes, on an Azurite of its own (see :func:`on_fresh_storage`)."""
    async with AzuriteProcess() as azurite:
        progress.start(f"B10 {workers} worker process(es)", sizes.scaled_chains * sizes.scaled_repeats)
        # best of n: the processes start and balance their leases; one slow start should not decide it
        runs = []
        for _ in range(sizes.scaled_repeats):
            runs.append(
                await scaled_throughput(
                    BENCH_DIR / "app", azurite.connection_string, workers, sizes.scaled_chains, 3, azurite.pid
                )
            )
            progress.advance(sizes.scaled_chains)
        count, seconds, cpu_s, storage_cpu_s, operations = min(runs, key=lambda run: run[1])
        progress.finish()
        plural = "es" if workers > 1 else ""
        return Row(
            f"B10-{workers}",
            f"chains of 3, {workers} worker process{plural} (best of {sizes.scaled_repeats})",
            count,
            seconds,
            host_cpu_s=cpu_s,
            storage_cpu_s=storage_cpu_s,
            operations={"all": operations},
            note=""
            if workers > 1
            else "B10 counts the CPU of the worker processes, and the storage operations of the workers "
            "(from their /metrics) and of the client that starts the chains from another process",
        )


async def main(sizes: Sizes, output: Path, peers: bool = False) -> str:
    env = environment()
    progress = Progress(13 + len(sizes.fan_outs) + len(sizes.workers))
    async with AzuriteProcess() as azurite:
        rows = [await probe(azurite, sizes.probe_rounds, progress)]
        rows.append(await queue_floor(azurite.connection_string, sizes.signals, 16, progress))
    rows += await on_fresh_storage(sizes, progress, lambda bench: latency_and_chains_of_3(bench, sizes))
    rows += await on_fresh_storage(sizes, progress, lambda bench: chains_of_5(bench, sizes))
    rows += await on_fresh_storage(sizes, progress, lambda bench: single_instance_scenarios(bench, sizes))
    rows += await scaling(sizes, progress)
    if peers:
        progress.start("peers: DBOS and Celery", 1)
        rows += await asyncio.to_thread(peer_rows, sizes.chains, sizes.latency_runs, sizes.fan_outs[0])
        progress.finish()
    found = targets(rows, rows[0].rate)
    table = render_markdown(rows, env, found)
    (output / "results.md").write_text(table)
    (output / "results.json").write_text(render_json(rows, env, found))
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: the short form CI runs")
    parser.add_argument("--output", type=Path, default=BENCH_DIR, help="where to write the results")
    parser.add_argument("--peers", action="store_true", help="also run DBOS and Celery (make bench-peers)")
    args = parser.parse_args()
    if args.peers and missing():
        parser.error("the peers need " + ", ".join(missing()) + "; `make bench-peers` installs them")
    configure_logging("WARNING")
    print(asyncio.run(main(QUICK if args.quick else FULL, args.output, args.peers)))
