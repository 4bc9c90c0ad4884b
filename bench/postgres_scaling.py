"""Chains of 3 on a PostgreSQL task hub with 1, 2 and 3 worker processes, beside what the database
itself can do on this machine in the same run (the episode-shaped transaction loop of
:mod:`bench.pg_drivers`, through asyncpg, with no host at all).

    python -m bench.postgres_scaling           # 300 chains per worker count; writes
                                               # bench/postgres_scaling_results.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.measure import process_cpu_s, process_tree_cpu_s
from bench.pg_drivers import asyncpg_episode, seed
from bench.providers import PG_SETTING, app_for
from bench.scaling import start_workers, stop_workers, wait_serving
from durable_ext.core.client import TaskHubClient
from durable_ext.host.postgres_server import PostgresServer
from durable_ext.postgres.service import PostgresOrchestrationService
from durable_ext.postgres.settings import PostgresSettings

HUB = "BenchHub"


async def database_capacity(dsn: str, episodes: int) -> float:
    """Episode-shaped transactions per second, 32 at a time, straight from asyncpg."""
    await seed(dsn, episodes)
    pool = await asyncpg.create_pool(dsn, min_size=32, max_size=32)
    gate = asyncio.Semaphore(32)

    async def one(step: int) -> None:
        async with gate:
            await asyncpg_episode(pool, step)

    try:
        began = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(episodes)))
        return episodes / (time.perf_counter() - began)
    finally:
        await pool.close()


async def chains_with(
    workers: int, app: Path, dsn: str, server_pid: int | None, total: int
) -> dict[str, float]:
    running = start_workers(app, "", workers)
    client_service = PostgresOrchestrationService(PostgresSettings(hub_name=HUB, dsn=dsn))
    client = TaskHubClient(client_service)
    try:
        await wait_serving([url for _, url in running])
        prefix = f"scale{workers}-{time.time_ns()}-"
        cpu = sum(process_cpu_s(p.pid) for p, _ in running)
        db_cpu = process_tree_cpu_s(server_pid)
        gate = asyncio.Semaphore(50)

        async def start(i: int) -> None:
            async with gate:
                await client.start("chain", '"3"', f"{prefix}{i:05d}")

        began = time.perf_counter()
        await asyncio.gather(*(start(i) for i in range(total)))
        async with client_service.connection() as conn:
            while True:
                done = await conn.fetchval(
                    "SELECT count(*) FROM dt.Instances WHERE TaskHub = $1 AND starts_with(InstanceID, $2) "
                    "AND RuntimeStatus = 'Completed'",
                    HUB.lower(),
                    prefix,
                )
                if done >= total:
                    break
                await asyncio.sleep(0.1)
        seconds = time.perf_counter() - began
        return {
            "workers": workers,
            "per_second": total / seconds,
            "host_cpu_ms": (sum(process_cpu_s(p.pid) for p, _ in running) - cpu) / total * 1000,
            "database_cpu_ms": (process_tree_cpu_s(server_pid) - db_cpu) / total * 1000,
        }
    finally:
        await client_service.close()
        stop_workers(running)


async def main(total: int, output: Path | None = None) -> str:
    async with PostgresServer() as server:
        os.environ[PG_SETTING] = server.dsn
        with tempfile.TemporaryDirectory(prefix="bench-app-") as folder:
            app = app_for({"type": "postgres"}, Path(folder))
            rows = [await chains_with(n, app, server.dsn, server.pid, total) for n in (1, 2, 3)]
        capacity = await database_capacity(server.dsn, 3000)
    lines = [
        f"`python -m bench.postgres_scaling --chains {total}` on {os.cpu_count()} cores: every worker is a "
        "`durable-ext start` process on one PostgreSQL server; chains started 50 at a time by a client in "
        "the bench process.",
        "",
        "| worker processes | chains of 3 per second | host CPU ms per chain | database CPU ms per chain |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['workers']:.0f} | {row['per_second']:.1f} | {row['host_cpu_ms']:.1f} | "
            f"{row['database_cpu_ms']:.1f} |"
        )
    lines.append(
        f"\nThe database alone, in the same run: {capacity:.0f} episode-shaped transactions per second "
        "(take a message, read a history, insert two history rows and a message, update an instance, "
        "delete the message; 32 at a time). A chain of 3 needs 4 episodes and 3 activity transactions."
    )
    text = "\n".join(lines) + "\n"
    if output is not None:
        await asyncio.to_thread(output.write_text, text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chains", type=int, default=300)
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).resolve().parent / "postgres_scaling_results.md"
    )
    args = parser.parse_args()
    print(asyncio.run(main(args.chains, args.output)))
