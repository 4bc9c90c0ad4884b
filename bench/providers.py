"""The same scenarios on the Azure Storage provider (Azurite) and on the PostgreSQL provider, in one run,
and DBOS (steps on its queue, and steps in-process) on the same PostgreSQL server.

Each provider gets the bench app in a host of its own in this process, on a fresh Azurite or a fresh
PostgreSQL server (``initdb`` in a temporary folder); only ``storageProvider`` in host.json differs.
The storage's CPU is Azurite's process, or the PostgreSQL server with its backends. DBOS runs in a
process of its own (``bench.peers.dbos_peer``, needs ``pip install -e '.[peers]'``) against a database
of its own on that server; its rows count that process's CPU as the host's.

    python -m bench.providers                 # writes bench/providers_results.md
    python -m bench.providers --quick         # small sizes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Row, process_tree_cpu_s
from bench.progress import Progress
from bench.scenarios import InProcess
from durable_ext.host.azurite import AzuriteProcess
from durable_ext.host.host import FunctionsHost
from durable_ext.host.logs import configure_logging
from durable_ext.host.postgres_server import PostgresServer

BENCH_DIR = Path(__file__).resolve().parent
PG_SETTING = "PostgresConnection"


def app_for(provider: dict[str, object], folder: Path) -> Path:
    """The bench app with ``provider`` as its host.json ``storageProvider``."""
    shutil.copy(BENCH_DIR / "app" / "function_app.py", folder / "function_app.py")
    host_json = json.loads((BENCH_DIR / "app" / "host.json").read_text())
    host_json["extensions"]["durableTask"]["storageProvider"] = provider
    (folder / "host.json").write_text(json.dumps(host_json))
    return folder


@dataclass
class Hosted:
    host: FunctionsHost
    storage_pid: int | None
    tree: bool
    """The storage is a process tree (PostgreSQL's server and backends)."""
    dsn: str = ""


@asynccontextmanager
async def azure_host(folder: Path) -> AsyncIterator[Hosted]:
    async with AzuriteProcess() as azurite:
        os.environ["AzureWebJobsStorage"] = azurite.connection_string  # noqa: SIM112 (the Functions name)
        host = FunctionsHost(app_for({}, folder), port=0)
        await host.start()
        try:
            yield Hosted(host, azurite.pid, False)
        finally:
            await host.stop()


@asynccontextmanager
async def postgres_host(folder: Path) -> AsyncIterator[Hosted]:
    async with PostgresServer() as server:
        os.environ[PG_SETTING] = server.dsn
        os.environ.pop("AzureWebJobsStorage", None)
        host = FunctionsHost(app_for({"type": "postgres"}, folder), port=0)
        await host.start()
        try:
            yield Hosted(host, server.pid, True, server.dsn)
        finally:
            await host.stop()


async def dbos_rows(dsn: str, server_pid: int | None, chains: int, runs: int) -> list[Row]:
    """DBOS's chains of 3 on the same server (a database of its own): latency and throughput rows."""
    url = dsn.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/dbos_bench"
    before = process_tree_cpu_s(server_pid)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.peers.dbos_peer", str(chains), str(runs), "3", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    output, _ = await process.communicate()
    measured = [json.loads(line) for line in output.decode().splitlines() if line.startswith("{")]
    if process.returncode != 0 or not measured:
        return []
    database_cpu_s = (process_tree_cpu_s(server_pid) - before) / len(measured)  # shared out evenly
    return [
        Row(
            "DBOS",
            m["scenario"].removeprefix("DBOS "),
            m["count"],
            m["seconds"],
            latencies_ms=m["latencies_ms"],
            host_cpu_s=m["cpu_s"],
            storage_cpu_s=database_cpu_s,
        )
        for m in measured
    ]


def sizes(quick: bool) -> tuple[int, int, int, int]:
    """Chains, latency runs, fan-out width, entity signals."""
    return (60, 10, 20, 100) if quick else (500, 50, 100, 1000)


async def scenarios(bench: InProcess, quick: bool) -> list[Row]:
    chains, runs, width, signals = sizes(quick)
    for _ in range(3):  # warm up: app imported, connections open
        await bench.run("chain", 1, f"warm-{time.time_ns()}")
    return [
        await bench.latency("B1-3", 3, runs),
        await bench.throughput("B3", 3, chains, 50),
        await bench.fan_out(f"B4-{width}", width),
        await bench.entity_signals("B7", signals),
    ]


async def main(quick: bool, output: Path) -> str:
    progress = Progress(8)
    results: dict[str, list[Row]] = {}
    for name, factory in (("Azure Storage (Azurite)", azure_host), ("PostgreSQL", postgres_host)):
        with tempfile.TemporaryDirectory(prefix="bench-app-") as folder:
            async with factory(Path(folder)) as hosted:
                bench = InProcess(hosted.host, hosted.storage_pid, progress, storage_tree=hosted.tree)
                results[name] = await scenarios(bench, quick)
                if hosted.dsn:
                    chains, runs, _, _ = sizes(quick)
                    results["DBOS on the same PostgreSQL"] = await dbos_rows(
                        hosted.dsn, hosted.storage_pid, chains, runs
                    )
    text = render(results, quick)
    await asyncio.to_thread(output.write_text, text)
    return text


def render(results: dict[str, list[Row]], quick: bool = False) -> str:
    command = "python -m bench.providers" + (" --quick" if quick else "")
    lines = [
        f"`{command}` on {os.cpu_count()} cores: each provider's host in the bench process, on a fresh "
        "Azurite or a fresh PostgreSQL server; DBOS in a process of its own on that server.",
        "",
        "| provider | # | scenario | count | per second | p50 ms | p95 ms | host CPU ms | storage CPU ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for provider, rows in results.items():
        for row in rows:
            p50, p95 = row.percentile(50), row.percentile(95)
            lines.append(
                f"| {provider} | {row.key} | {row.scenario} | {row.count} {row.unit} | {row.rate:.1f} | "
                f"{_ms(p50)} | {_ms(p95)} | {row.host_cpu_s / row.divisor * 1000:.2f} | "
                f"{row.storage_cpu_s / row.divisor * 1000:.2f} |"
            )
    note = (
        "\nCPU is per orchestration (per instance for B4 and B7): the host process, and the storage "
        "(Azurite's process; the PostgreSQL server with its backends). Both run on the same 2 cores.\n"
    )
    return "\n".join(lines) + "\n" + note


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "providers_results.md")
    args = parser.parse_args()
    configure_logging("WARNING")
    print(asyncio.run(main(args.quick, args.output)))
