"""Peer: DBOS running the same chains as B1/B3, in two forms, on SQLite or on a PostgreSQL server.

- ``queued``: each step is a one-step workflow put on a DBOS queue and awaited (both polled every 50 ms),
  the closest match to an activity dispatched through a queue;
- ``in-process``: each step is a ``@DBOS.step`` called directly inside the workflow (labelled so: it
  does not go through any queue).

Run by ``bench.run --peers`` as ``python -m bench.peers.dbos_peer <chains> <latency runs> <steps>
[<system database URL>]`` (SQLite in a temporary folder when no URL is given); prints one JSON row per
measurement.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dbos import DBOS, DBOSConfig

POLL_S = 0.05
"""How often the queue and a step's result are polled (DBOS's default is 1 s for both); 50 ms is
durable-ext's shortest poll delay."""


def main(chains: int, latency_runs: int, steps: int, database_url: str = "") -> None:
    if not database_url:
        database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='dbos-bench-')) / 'dbos.db'}"
    config: DBOSConfig = {"name": "durable-ext-bench", "system_database_url": database_url}
    DBOS(config=config)
    queues: list[Any] = []

    @DBOS.step()
    def hello(step: int) -> str:
        return f"Hello {step}!"

    @DBOS.workflow()
    def hello_workflow(step: int) -> str:
        return hello(step)

    @DBOS.workflow()
    def chain_in_process(count: int) -> list[str]:
        return [hello(i) for i in range(count)]

    @DBOS.workflow()
    def chain_queued(count: int) -> list[str]:
        handles = (queues[0].enqueue(hello_workflow, i) for i in range(count))
        return [handle.get_result(polling_interval_sec=POLL_S) for handle in handles]

    DBOS.launch()
    queues.append(DBOS.register_queue("steps", polling_interval_sec=POLL_S))
    try:
        for name, workflow in (("queued", chain_queued), ("in-process", chain_in_process)):
            workflow(1)  # warm up
            emit(latency(name, workflow, latency_runs, steps))
            emit(throughput(name, workflow, chains, steps))
    finally:
        DBOS.destroy()


def latency(name: str, workflow: Any, runs: int, steps: int) -> dict[str, Any]:
    samples = []
    cpu = time.process_time()
    began = time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        workflow(steps)
        samples.append((time.perf_counter() - t0) * 1000)
    return row(f"DBOS {name}: latency, chain of {steps}", runs, time.perf_counter() - began, cpu, samples)


def throughput(name: str, workflow: Any, chains: int, steps: int) -> dict[str, Any]:
    cpu = time.process_time()
    began = time.perf_counter()
    with ThreadPoolExecutor(50) as pool:  # 50 in flight, as B3
        list(pool.map(lambda _: workflow(steps), range(chains)))
    seconds = time.perf_counter() - began
    return row(f"DBOS {name}: throughput, chains of {steps}, 50 in flight", chains, seconds, cpu, [])


def row(scenario: str, count: int, seconds: float, cpu_began: float, samples: list[float]) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "count": count,
        "seconds": seconds,
        "cpu_s": time.process_time() - cpu_began,
        "latencies_ms": samples,
    }


def emit(measured: dict[str, Any]) -> None:
    print(json.dumps(measured), flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]), *sys.argv[4:5])
