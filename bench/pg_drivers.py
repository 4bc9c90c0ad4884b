"""Which PostgreSQL driver for the relational provider: asyncpg or psycopg 3, on the provider's workload.

One "episode" is what the provider does per orchestration step: take a message with ``FOR UPDATE SKIP
LOCKED``, read the instance's history, and in one transaction insert two history rows, update the
instance row, insert one new message and delete the consumed one. Both drivers run the same statements
from 32 concurrent tasks through their pools against one throw-away server, alternating, in one run;
the figures are episodes per second and the client process's CPU per episode.

    python -m bench.pg_drivers            # 3 rounds of 3,000 episodes per driver
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import psycopg
import psycopg_pool

from durable_ext.host.postgres_server import PostgresServer

SCHEMA = """
DROP TABLE IF EXISTS bench_events, bench_history, bench_instances;
CREATE TABLE bench_instances (id text PRIMARY KEY, status text NOT NULL, updated timestamptz NOT NULL);
CREATE TABLE bench_history (id text, seq int, kind text, payload text, PRIMARY KEY (id, seq));
CREATE TABLE bench_events (seq bigserial PRIMARY KEY, id text NOT NULL, payload text NOT NULL);
"""
TAKE = "SELECT seq, id, payload FROM bench_events ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED"
HISTORY = "SELECT seq, kind, payload FROM bench_history WHERE id = $1 ORDER BY seq"
INSERT_HISTORY = "INSERT INTO bench_history (id, seq, kind, payload) VALUES ($1, $2, $3, $4)"
UPDATE_INSTANCE = (
    "INSERT INTO bench_instances (id, status, updated) VALUES ($1, 'Running', now()) "
    "ON CONFLICT (id) DO UPDATE SET status = 'Running', updated = now()"
)
INSERT_EVENT = "INSERT INTO bench_events (id, payload) VALUES ($1, $2)"
DELETE_EVENT = "DELETE FROM bench_events WHERE seq = $1"
PAYLOAD = '{"input": "' + "x" * 300 + '"}'
CONCURRENCY = 32


def _psycopg(sql: str) -> str:
    for n in range(9, 0, -1):
        sql = sql.replace(f"${n}", "%s")
    return sql


async def asyncpg_episode(pool: asyncpg.Pool, step: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(TAKE)
        if row is None:
            return
        history = await conn.fetch(HISTORY, row["id"])
        seq = len(history)
        await conn.executemany(
            INSERT_HISTORY, [(row["id"], seq, "TaskScheduled", PAYLOAD), (row["id"], seq + 1, "X", PAYLOAD)]
        )
        await conn.execute(UPDATE_INSTANCE, row["id"])
        await conn.execute(INSERT_EVENT, row["id"], PAYLOAD)
        await conn.execute(DELETE_EVENT, row["seq"])


async def psycopg_episode(pool: psycopg_pool.AsyncConnectionPool, step: int) -> None:
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.execute(_psycopg(TAKE))
        row = await cur.fetchone()
        if row is None:
            return
        seq_taken, instance, _ = row
        await cur.execute(_psycopg(HISTORY), (instance,))
        seq = len(await cur.fetchall())
        await cur.executemany(
            _psycopg(INSERT_HISTORY),
            [(instance, seq, "TaskScheduled", PAYLOAD), (instance, seq + 1, "X", PAYLOAD)],
        )
        await cur.execute(_psycopg(UPDATE_INSTANCE), (instance,))
        await cur.execute(_psycopg(INSERT_EVENT), (instance, PAYLOAD))
        await cur.execute(_psycopg(DELETE_EVENT), (seq_taken,))


async def seed(dsn: str, instances: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA)
        await conn.executemany(INSERT_EVENT, [(f"i{n}", PAYLOAD) for n in range(instances)])
    finally:
        await conn.close()


async def _timed(episode: Callable[[int], Awaitable[None]], count: int) -> tuple[float, float]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(step: int) -> None:
        async with gate:
            await episode(step)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return time.perf_counter() - wall, time.process_time() - cpu


async def main(rounds: int, count: int) -> dict[str, Any]:
    async with PostgresServer() as server:
        apool = await asyncpg.create_pool(server.dsn, min_size=CONCURRENCY, max_size=CONCURRENCY)
        ppool = psycopg_pool.AsyncConnectionPool(
            server.dsn, min_size=CONCURRENCY, max_size=CONCURRENCY, open=False, kwargs={"autocommit": True}
        )
        await ppool.open(wait=True)
        results: dict[str, list[tuple[float, float]]] = {"asyncpg": [], "psycopg": []}
        try:
            for _ in range(rounds):
                for name in results:
                    await seed(server.dsn, count)  # every event is one episode; each makes one more
                    if name == "asyncpg":
                        found = await _timed(lambda step: asyncpg_episode(apool, step), count)
                    else:
                        found = await _timed(lambda step: psycopg_episode(ppool, step), count)
                    results[name].append(found)
        finally:
            await apool.close()
            await ppool.close()
    summary = {}
    for name, runs in results.items():
        rate = statistics.median(count / wall for wall, _ in runs)
        cpu_ms = statistics.median(cpu / count * 1000 for _, cpu in runs)
        summary[name] = {"episodes_per_s": round(rate), "client_cpu_ms_per_episode": round(cpu_ms, 3)}
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=3000)
    args = parser.parse_args()
    print(psycopg.__version__, asyncpg.__version__, asyncio.run(main(args.rounds, args.episodes)))
