"""Benchmarks: latency and throughput of durable-ext on a private Azurite, in one run.

    make bench            # or: .venv/bin/python -m bench.run [--quick]

Writes bench/results.md (a table) and prints it. Each figure comes from this run on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from durable_ext.core.client import TaskHubClient
from durable_ext.host.azurite import AzuriteProcess
from durable_ext.host.host import FunctionsHost
from durable_ext.host.logs import configure_logging

BENCH_DIR = Path(__file__).resolve().parent


@dataclass
class Row:
    scenario: str
    count: int
    seconds: float
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


class CompletionWatch:
    """Resolves a future when an instance's status row is written as finished (no polling load)."""

    def __init__(self, host: FunctionsHost) -> None:
        assert host.extension is not None
        instances = host.extension.service.instances
        self._waiting: dict[str, asyncio.Future[None]] = {}
        original = instances.update_from_episode

        async def update_and_notify(runtime_state: Any, custom_status: str | None, **options: Any) -> None:
            await original(runtime_state, custom_status, **options)
            if runtime_state.status.is_terminal:
                future = self._waiting.pop(runtime_state.instance_id or "", None)
                if future is not None and not future.done():
                    future.set_result(None)

        instances.update_from_episode = update_and_notify  # type: ignore[method-assign]

    def expect(self, instance_id: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[instance_id] = future
        return future


def sdk_input(value: object) -> str:
    """The input as the SDK client would store it (JSON of df_dumps)."""
    return json.dumps(json.dumps(value))


async def latency(client: TaskHubClient, watch: CompletionWatch, name: str, steps: int, runs: int) -> Row:
    samples: list[float] = []
    began = time.perf_counter()
    for run in range(runs):
        instance_id = f"lat-{name}-{steps}-{run}-{time.time_ns()}"
        done = watch.expect(instance_id)
        t0 = time.perf_counter()
        await client.start(name, sdk_input(steps), instance_id)
        await asyncio.wait_for(done, 60)
        samples.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - began
    quantiles = statistics.quantiles(samples, n=20)
    return Row(f"latency, {name} of {steps}", runs, elapsed, statistics.median(samples), quantiles[18])


async def throughput(
    client: TaskHubClient, watch: CompletionWatch, steps: int, total: int, in_flight: int
) -> Row:
    gate = asyncio.Semaphore(in_flight)

    async def one(index: int) -> None:
        async with gate:
            instance_id = f"tp-{steps}-{index}-{time.time_ns()}"
            done = watch.expect(instance_id)
            await client.start("chain", sdk_input(steps), instance_id)
            await asyncio.wait_for(done, 300)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    return Row(f"throughput, chains of {steps} ({in_flight} in flight)", total, time.perf_counter() - began)


def render(rows: list[Row]) -> str:
    head = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, Azurite 3.35.0 (in-memory).\n\n"
    )
    lines = ["| scenario | instances | seconds | per second | p50 ms | p95 ms |", "|---|---|---|---|---|---|"]
    for r in rows:
        p50 = f"{r.p50_ms:.1f}" if r.p50_ms is not None else ""
        p95 = f"{r.p95_ms:.1f}" if r.p95_ms is not None else ""
        lines.append(f"| {r.scenario} | {r.count} | {r.seconds:.2f} | {r.per_second:.1f} | {p50} | {p95} |")
    return head + "\n".join(lines) + "\n"


async def main(quick: bool) -> str:
    async with AzuriteProcess() as azurite:
        os.environ["AzureWebJobsStorage"] = azurite.connection_string  # noqa: SIM112 (the Functions name)
        host = FunctionsHost(BENCH_DIR / "app", port=0)
        await host.start()
        try:
            assert host.extension is not None
            client = host.extension.client
            watch = CompletionWatch(host)
            runs, total = (10, 30) if quick else (50, 300)
            await latency(client, watch, "chain", 1, 3)  # warm up
            rows = [
                await latency(client, watch, "chain", 1, runs),
                await latency(client, watch, "chain", 3, runs),
                await throughput(client, watch, 3, total, 50),
            ]
        finally:
            await host.stop()
    table = render(rows)
    (BENCH_DIR / "results.md").write_text(table)
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs (CI smoke)")
    args = parser.parse_args()
    configure_logging("WARNING")
    print(asyncio.run(main(args.quick)))
