"""Peer: Celery on a local Redis (a task queue, not a durable workflow engine): chains of N tasks and a
chord of M, next to B1/B3 and B4.

Run by ``bench.run --peers`` as ``python -m bench.peers.celery_peer <chains> <latency runs> <steps>
<chord width>``; starts its own ``redis-server`` and Celery worker on a free port and prints one JSON row
per measurement.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.measure import process_cpu_s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(chains: int, latency_runs: int, steps: int, width: int) -> None:
    port = _free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.environ["BENCH_REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bench.peers.celery_app", "worker", "--pool", "threads",
         "--concurrency", "8", "--loglevel", "WARNING"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        from celery import chain, chord

        from bench.peers.celery_app import collect, hello

        hello.delay(0).get(timeout=60)  # the worker is up

        def run_chain() -> None:
            chain(*(hello.si(i) for i in range(steps))).apply_async().get(timeout=120)

        pids = [worker.pid, redis.pid]
        emit(measure(f"Celery chain of {steps}: latency", latency_runs, pids, run_chain, sequential=True))
        emit(measure(f"Celery chains of {steps}: throughput, 50 in flight", chains, pids, run_chain))

        def run_chord() -> None:
            chord(hello.si(i) for i in range(width))(collect.s()).get(timeout=300)

        emit(measure(f"Celery chord of {width}", 1, pids, run_chord, sequential=True))
    finally:
        for process in (worker, redis):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def measure(scenario: str, count: int, pids: list[int], run: Any, sequential: bool = False) -> dict[str, Any]:
    cpu = time.process_time() + sum(process_cpu_s(pid) for pid in pids)
    samples: list[float] = []
    began = time.perf_counter()
    if sequential:
        for _ in range(count):
            t0 = time.perf_counter()
            run()
            samples.append((time.perf_counter() - t0) * 1000)
    else:
        with ThreadPoolExecutor(50) as pool:
            list(pool.map(lambda _: run(), range(count)))
    seconds = time.perf_counter() - began
    used = time.process_time() + sum(process_cpu_s(pid) for pid in pids) - cpu
    return {"scenario": scenario, "count": count, "seconds": seconds, "cpu_s": used, "latencies_ms": samples}


def emit(measured: dict[str, Any]) -> None:
    print(json.dumps(measured), flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:5]))
