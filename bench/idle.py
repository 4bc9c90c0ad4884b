"""Scaled out and idle: latency after idle with 1, 2 and 3 workers, and what an idle hour costs.

Every worker is a separate ``durable-ext start`` process on a fresh Azurite. For the latency rows the
workers balance their leases, then each start waits ``idle_s`` with nothing to do and starts a fan-out
of one activity through the first worker's HTTP API, timing start to ``Completed``: the orchestration
lands on any worker's control queue and the activity on the shared work-item queue, so every hop that
another worker serves needs it to be awake. For the cost rows the workers sit idle for ``window_s``
and their ``/metrics`` count the storage requests they sent.

    python -m bench.idle                      # 60 s idle before each of 8 starts, 10-minute windows
    python -m bench.idle --idle-s 5 --starts 3 --window-s 60   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.scaling import HUB, operations_of, start_workers, stop_workers, wait_balanced, wait_serving
from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.host.azurite import AzuriteProcess

BENCH_DIR = Path(__file__).resolve().parent
WEBHOOKS = "/runtime/webhooks/durabletask"
Worker = tuple[subprocess.Popen[bytes], str]
SETTLE_S = 40.0
"""After balancing, before counting: the first listings, lease takes and queue polls are done."""


@dataclass
class Latencies:
    workers: int
    milliseconds: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.milliseconds)


@dataclass
class IdleCost:
    workers: int
    operations: int
    window_s: float

    @property
    def per_hour(self) -> float:
        return self.operations * 3600 / self.window_s


async def _start_and_wait(http: aiohttp.ClientSession, base_url: str) -> float:
    began = time.perf_counter()
    async with http.post(f"{base_url}{WEBHOOKS}/orchestrators/fan_out", json="1") as response:
        response.raise_for_status()
        instance = (await response.json())["id"]
    while True:
        async with http.get(f"{base_url}{WEBHOOKS}/instances/{instance}") as response:
            status = (await response.json()).get("runtimeStatus")
        if status == "Completed":
            return (time.perf_counter() - began) * 1000
        if status in ("Failed", "Terminated"):
            raise RuntimeError(f"instance {instance} ended {status}")
        await asyncio.sleep(0.005)


async def _on_workers(count: int, connection_string: str) -> tuple[list[Worker], list[str]]:
    running = start_workers(BENCH_DIR / "app", connection_string, count)
    urls = [url for _, url in running]
    await wait_serving(urls)
    service = AzureStorageOrchestrationService(AzureStorageSettings(HUB, connection_string))
    try:
        await wait_balanced(service, count)
    finally:
        await service.close()
    return running, urls


async def latency_after_idle(workers: int, idle_s: float, starts: int, offset_s: float = 0.0) -> Latencies:
    """``offset_s``: how much later than the others this hub's starts come (hubs measured at once)."""
    async with AzuriteProcess() as azurite:
        running, urls = await _on_workers(workers, azurite.connection_string)
        try:
            async with aiohttp.ClientSession() as http:
                await _start_and_wait(http, urls[0])  # the app is imported, connections are open
                await asyncio.sleep(offset_s)
                found = []
                for _ in range(starts):
                    await asyncio.sleep(idle_s)
                    found.append(await _start_and_wait(http, urls[0]))
            return Latencies(workers, found)
        finally:
            stop_workers(running)


async def idle_cost(workers: int, window_s: float) -> IdleCost:
    async with AzuriteProcess() as azurite:
        running, urls = await _on_workers(workers, azurite.connection_string)
        try:
            await asyncio.sleep(SETTLE_S)
            before = await operations_of(urls)
            await asyncio.sleep(window_s)
            return IdleCost(workers, await operations_of(urls) - before, window_s)
        finally:
            stop_workers(running)


def render(
    latencies: list[Latencies], costs: list[IdleCost], idle_s: float, reference: dict[int, int]
) -> str:
    lines = [
        f"## Latency after {idle_s:.0f} s idle (fan-out of one activity, started through worker 1)",
        "",
        "| workers | starts | p50 ms | max ms | all, ms |",
        "|---|---|---|---|---|",
    ]
    for row in latencies:
        values = ", ".join(f"{ms:.0f}" for ms in row.milliseconds)
        worst = max(row.milliseconds)
        lines.append(f"| {row.workers} | {len(row.milliseconds)} | {row.p50:.0f} | {worst:.0f} | {values} |")
    lines += [
        "",
        "## Storage transactions per idle hour (default settings, 4 control queues)",
        "",
        "| workers | measured over | transactions / hour | reference's schedule / hour | share |",
        "|---|---|---|---|---|",
    ]
    for cost in costs:
        ref = reference.get(cost.workers)
        share = f"1/{ref / cost.per_hour:.0f}" if ref and cost.per_hour else ""
        schedule = f"{ref:,}" if ref else ""
        lines.append(
            f"| {cost.workers} | {cost.window_s:.0f} s | {cost.per_hour:,.0f} | {schedule} | {share} |"
        )
    return "\n".join(lines) + "\n"


REFERENCE_PER_HOUR = {1: 9024, 3: 20352}
"""The reference's idle schedule at default settings with 4 partitions (DurableTask.AzureStorage 2.x,
safe partition manager, app lease): per worker, an intent-lease pass every 10 s and an ownership-lease
pass every 5 s, each one List Blobs and one download per lease blob (5 requests: 1,800 + 3,600 an
hour), the app lease renewed every 25 s (144), the work-item queue polled every 30 s (120); per
partition, its intent and ownership leases renewed every 10 s and its control queue polled every 30 s
(840). One worker: 5,664 + 4 x 840 = 9,024; three: 3 x 5,664 + 4 x 840 = 20,352. The 1.x library
(Durable Functions extension 2.x) also reads each lease blob's properties: 13,344 and 33,312."""


async def main(idle_s: float, starts: int, window_s: float, output: Path | None) -> str:
    """The hubs run at once, each on its own Azurite (idle, they hardly compete for the cores); their
    starts are spread over the idle time so that no two run together. ``output``: where the figures
    go (``None``: printed only)."""
    costs = await asyncio.gather(idle_cost(1, window_s), idle_cost(3, window_s)) if window_s > 0 else []
    spread = idle_s / 3
    latencies = list(
        await asyncio.gather(
            *(latency_after_idle(workers, idle_s, starts, n * spread) for n, workers in enumerate((1, 2, 3)))
        )
    )
    text = render(latencies, list(costs), idle_s, REFERENCE_PER_HOUR)
    figures = {
        "latency_ms": {row.workers: row.milliseconds for row in latencies},
        "idle_per_hour": {cost.workers: round(cost.per_hour) for cost in costs},
    }
    if output is not None:
        await asyncio.to_thread(output.write_text, text)
        await asyncio.to_thread(output.with_suffix(".json").write_text, json.dumps(figures, indent=2))
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--idle-s", type=float, default=60.0, help="idle time before each start")
    parser.add_argument("--starts", type=int, default=8, help="starts per worker count")
    parser.add_argument(
        "--window-s", type=float, default=600.0, help="how long to count an idle hub's requests (0: skip)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the figures (default: bench/idle_results.md for a full run; a run that "
        "skips the idle window only prints, so that it does not erase the idle-cost figures)",
    )
    args = parser.parse_args()
    output = args.output or (BENCH_DIR / "idle_results.md" if args.window_s > 0 else None)
    print(asyncio.run(main(args.idle_s, args.starts, args.window_s, output)))
