"""Running the peers (``make bench-peers``) in subprocesses and turning what they print into rows."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib.util import find_spec

from bench.measure import Row


def _run(module: str, arguments: list[int], key_prefix: str, timeout_s: float) -> list[Row]:
    done = subprocess.run(
        [sys.executable, "-m", module, *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed: {done.stderr.strip()[-2000:]}")
    rows = []
    for index, line in enumerate(line for line in done.stdout.splitlines() if line.startswith("{")):
        measured = json.loads(line)
        rows.append(
            Row(
                f"{key_prefix}{index + 1}",
                measured["scenario"],
                measured["count"],
                measured["seconds"],
                latencies_ms=measured["latencies_ms"],
                host_cpu_s=measured["cpu_s"],
                unit="workflows",
            )
        )
    return rows


def missing() -> list[str]:
    """What ``make bench-peers`` needs and this machine lacks."""
    needs = []
    if find_spec("dbos") is None:
        needs.append("the dbos package")
    if find_spec("celery") is None or find_spec("redis") is None:
        needs.append("the celery and redis packages")
    if shutil.which("redis-server") is None:
        needs.append("redis-server (Debian: apt-get install redis-server)")
    return needs


def peer_rows(chains: int, latency_runs: int, width: int) -> list[Row]:
    absent = missing()
    if absent:
        raise RuntimeError("The peers need " + ", ".join(absent) + "; `make bench-peers` installs them.")
    rows = _run("bench.peers.dbos_peer", [chains, latency_runs, 3], "P-DBOS-", 900)
    rows += _run("bench.peers.celery_peer", [chains, latency_runs, 3, width], "P-Celery-", 900)
    return rows
