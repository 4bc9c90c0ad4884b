"""Chains and fan-outs through a plain durabletask worker: on durable-ext's sidecar, on durabletask's
own in-memory backend (the SDK's test backend), and the same scenarios through the 1.x path, in one run.

Each backend runs the same workload with the same worker settings, in rounds that alternate between
the backends, so a busy moment of the machine falls on all of them alike:

- ``durabletask in-memory``: ``durabletask.testing.InMemoryOrchestrationBackend`` (nothing durable);
- ``sidecar, memory``: ``durable-ext sidecar --storage memory`` (nothing durable either);
- ``sidecar, Azure Storage``: ``durable-ext sidecar`` on Azurite;
- ``1.x path, memory`` / ``1.x path, Azure Storage``: the bench app's 1.x orchestrations in the host.

    python -m bench.sidecar                 # writes bench/sidecar_results.md
    python -m bench.sidecar --quick         # small sizes
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from durabletask import client, task, worker
from durabletask.testing import InMemoryOrchestrationBackend

from bench.progress import Progress
from bench.providers import app_for
from bench.scenarios import InProcess
from durable_ext.host.azurite import AzuriteProcess
from durable_ext.host.host import FunctionsHost
from durable_ext.host.logs import configure_logging

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hello(ctx: task.ActivityContext, step: int) -> str:
    return f"Hello {step}!"


def chain(ctx: task.OrchestrationContext, steps: int) -> Any:
    results = []
    for step in range(steps):
        results.append((yield ctx.call_activity(hello, input=step)))
    return results


def fan_out(ctx: task.OrchestrationContext, width: int) -> Any:
    results = yield task.when_all([ctx.call_activity(hello, input=i) for i in range(width)])
    return len(results)


@dataclass
class Figures:
    chains_per_s: list[float] = field(default_factory=list)
    fan_out_s: list[float] = field(default_factory=list)


Workload = Callable[[int, int], Awaitable[tuple[float, float]]]
"""Runs ``chains`` chains of 3 at once and one fan-out of ``width``: (chains per second, fan-out s)."""


def _grpc_workload(address: str) -> Callable[[int, int], tuple[float, float]]:
    c = client.TaskHubGrpcClient(host_address=address)

    def run(chains: int, width: int) -> tuple[float, float]:
        began = time.perf_counter()
        ids = [c.schedule_new_orchestration(chain, input=3) for _ in range(chains)]
        for instance_id in ids:
            state = c.wait_for_orchestration_completion(instance_id, timeout=600)
            assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED
        per_s = chains / (time.perf_counter() - began)
        began = time.perf_counter()
        done = c.wait_for_orchestration_completion(
            c.schedule_new_orchestration(fan_out, input=width), timeout=600
        )
        assert done is not None and done.get_output() == width
        return per_s, time.perf_counter() - began

    return run


class GrpcBackend:
    def __init__(self, name: str, address: str, stop: Callable[[], None]) -> None:
        self.name = name
        self.worker = worker.TaskHubGrpcWorker(host_address=address)
        for orchestrator in (chain, fan_out):
            self.worker.add_orchestrator(orchestrator)
        self.worker.add_activity(hello)
        self.worker.start()
        self._run = _grpc_workload(address)
        self._stop = stop

    async def run(self, chains: int, width: int) -> tuple[float, float]:
        return await asyncio.to_thread(self._run, chains, width)

    def close(self) -> None:
        self.worker.stop()
        self._stop()


class OneXBackend:
    """The bench app's 1.x orchestrations in a host in this process."""

    def __init__(self, name: str, bench: InProcess) -> None:
        self.name = name
        self.bench = bench

    async def run(self, chains: int, width: int) -> tuple[float, float]:
        began = time.perf_counter()
        await asyncio.gather(*(self.bench.run("chain", 3, f"c{i}-{time.time_ns()}") for i in range(chains)))
        per_s = chains / (time.perf_counter() - began)
        began = time.perf_counter()
        await self.bench.run("fan_out", width, f"f-{time.time_ns()}")
        return per_s, time.perf_counter() - began


def _sidecar(storage: list[str], env: dict[str, str], root: Path) -> tuple[str, Callable[[], None]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "durable_ext", "sidecar", "--script-root", str(root), "--port", str(port),
         *storage],
        cwd=str(REPO_ROOT), env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(3)  # the worker's own connection retries cover a slower start

    def stop() -> None:
        process.terminate()
        process.wait(15)

    return f"127.0.0.1:{port}", stop


async def main(quick: bool) -> str:
    chains, width, rounds = (20, 20, 2) if quick else (100, 100, 5)
    progress = Progress(1)
    folder = Path(tempfile.mkdtemp(prefix="bench-sidecar-"))
    (folder / "host.json").write_text(
        '{"version": "2.0", "extensions": {"durableTask": {"hubName": "benchsidecar"}}}'
    )
    async with AzuriteProcess() as azurite:
        os.environ["AzureWebJobsStorage"] = azurite.connection_string  # noqa: SIM112 (the Functions name)
        in_memory = InMemoryOrchestrationBackend(port=free_port())
        in_memory.start()
        backends: list[Any] = [
            GrpcBackend("durabletask in-memory backend", f"localhost:{in_memory._port}", in_memory.stop),
            GrpcBackend("durable-ext sidecar, memory", *_sidecar(["--storage", "memory"], {}, folder)),
            GrpcBackend("durable-ext sidecar, Azure Storage (Azurite)", *_sidecar([], {}, folder)),
        ]
        hosts = []
        for name, storage in (("1.x path, memory", "memory"), ("1.x path, Azure Storage (Azurite)", None)):
            app = Path(tempfile.mkdtemp(prefix="bench-1x-"))
            host = FunctionsHost(app_for({}, app), port=0, storage=storage)
            await host.start()
            hosts.append(host)
            backends.append(OneXBackend(name, InProcess(host, azurite.pid, progress)))
        figures = {b.name: Figures() for b in backends}
        try:
            for _ in range(rounds):
                for backend in backends:
                    per_s, fan_s = await backend.run(chains, width)
                    figures[backend.name].chains_per_s.append(per_s)
                    figures[backend.name].fan_out_s.append(fan_s)
        finally:
            for backend in backends:
                if isinstance(backend, GrpcBackend):
                    backend.close()
            for host in hosts:
                await host.stop()
    return _report(figures, chains, width, rounds)


def _report(figures: dict[str, Figures], chains: int, width: int, rounds: int) -> str:
    base = figures["durabletask in-memory backend"]
    lines = [
        "# Chains and fan-outs through a durabletask worker",
        "",
        f"{datetime.now(UTC):%Y-%m-%d}, Python {sys.version.split()[0]}, {os.cpu_count()} cores; "
        f"{rounds} alternating rounds, medians; `python -m bench.sidecar`.",
        "",
        f"| backend | chains of 3 per s ({chains} at once) | vs in-memory backend | fan-out of {width} (s) "
        "| vs in-memory backend |",
        "|---|---|---|---|---|",
    ]
    for name, f in figures.items():
        per_s, fan_s = median(f.chains_per_s), median(f.fan_out_s)
        lines.append(
            f"| {name} | {per_s:.1f} | {per_s / median(base.chains_per_s):.2f} | {fan_s:.2f} | "
            f"{fan_s / median(base.fan_out_s):.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "sidecar_results.md")
    args = parser.parse_args()
    configure_logging("WARNING")
    report = asyncio.run(main(args.quick))
    args.output.write_text(report)
    print(report)
