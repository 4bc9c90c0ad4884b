"""The results table (bench/results.md), the JSON file (bench/results.json) and the targets verdict."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from bench.measure import Row

REFERENCE_OPS_PER_CHAIN_STEP = 9
"""DurableTask.AzureStorage spends 9 * (N + 1) storage operations on a chain of N activities."""
TARGET_OPS_PER_CHAIN_STEP = 6

# Microsoft's published figures for the Azure Storage provider (see docs/performance.md for sources)
PUBLISHED = {
    "B2": (32.0, "orchestrations/s, HelloCities5 on one EP1 (45 on EP2, 48 on EP3)"),
    "B4-100": (100.0, "activities/s fan-out per instance"),
    "B5": (5.0, "sequential activities/s per instance"),
    "B6": (50.0, "external events/s per instance"),
    "B7": (64.0, "entity operations/s"),
}


def environment() -> dict[str, Any]:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        "load_before": round(load, 2) if load is not None else None,
        "python": platform.python_version(),
        "node": _node_version(),
        "azurite": _package_version(),
        "azure-functions-durable": version("azure-functions-durable"),
        "azure-storage-queue": version("azure-storage-queue"),
        "azure-data-tables": version("azure-data-tables"),
    }


def _node_version() -> str:
    try:
        done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
        return done.stdout.strip()
    except OSError:
        return "unknown"


def _package_version() -> str:
    try:
        with open("package.json") as package:
            return str(json.load(package).get("dependencies", {}).get("azurite", "unknown"))
    except (OSError, ValueError):
        return "unknown"


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None
    why: str = ""


def _find(rows: list[Row], key: str) -> Row | None:
    return next((r for r in rows if r.key == key), None)


def targets(rows: list[Row], capacity_ops_s: float | None) -> list[Target]:
    found: list[Target] = []
    chain3 = _find(rows, "B3")
    if chain3 is not None and chain3.operations_per_orchestration is not None:
        ops = chain3.operations_per_orchestration
        goal = TARGET_OPS_PER_CHAIN_STEP * 4
        found.append(
            Target(
                "storage operations per chain of 3",
                f"<= {goal} (reference {REFERENCE_OPS_PER_CHAIN_STEP * 4})",
                f"{ops:.1f}",
                ops <= goal,
            )
        )
        if capacity_ops_s:
            floor = capacity_ops_s / ops
            ratio = chain3.rate / floor
            found.append(
                Target(
                    "chain-of-3 throughput vs storage floor",
                    ">= 80% of B0 ops/s / ops per chain",
                    f"{chain3.rate:.1f}/s = {ratio:.0%} of {floor:.1f}/s",
                    ratio >= 0.8,
                    "" if ratio >= 0.8 else _why_below_floor(chain3),
                )
            )
    idle = _find(rows, "B8")
    if idle is not None and idle.latencies_ms:
        ms = idle.latencies_ms[0]
        found.append(Target("first start after idle", "<= 200 ms", f"{ms:.0f} ms", ms <= 200))
    chain1 = _find(rows, "B1-1")
    p50 = chain1.percentile(50) if chain1 is not None else None
    if p50 is not None:
        found.append(Target("p50 latency, chain of 1, idle worker", "< 50 ms", f"{p50:.1f} ms", p50 < 50))
    return found


def _why_below_floor(row: Row) -> str:
    host_ms = row.host_cpu_s / row.divisor * 1000
    return (
        f"the host process spends {host_ms:.1f} ms of CPU per orchestration (the storage client library "
        "included) and shares the 2 cores with the storage emulator, so it runs out of CPU before the "
        "storage does"
    )


def _cell(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def render_markdown(rows: list[Row], env: dict[str, Any], found: list[Target]) -> str:
    head = [
        f"Run {env['date']} on {env['machine']} (load {env['load_before']} before): Python {env['python']}, "
        f"Node {env['node']}, Azurite {env['azurite']} in memory, azure-functions-durable "
        f"{env['azure-functions-durable']}.",
        "",
        "Regenerate with `make bench` (about 10 minutes; `make bench-peers` adds the peers); "
        "`bench/results.json` holds the same rows with the run's machine, versions and date on each. "
        "Storage operations are counted by the request hook of "
        "the storage clients, per orchestration (per instance for B4-B7); CPU is seconds per orchestration "
        "of the host process and of Azurite.",
        "",
        "| # | scenario | count | s | per s | p50 ms | p95 ms | p99 ms | storage ops / orch | host CPU ms | "
        "Azurite CPU ms | vs published |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        published = PUBLISHED.get(r.key)
        versus = f"{r.rate / published[0]:.1f}x {published[0]:.0f} {published[1]}" if published else ""
        head.append(
            f"| {r.key} | {r.scenario} | {r.count} {r.unit} | {r.seconds:.2f} | {r.rate:.1f} | "
            f"{_cell(r.percentile(50))} | {_cell(r.percentile(95))} | {_cell(r.percentile(99))} | "
            f"{_cell(r.operations_per_orchestration)} | {r.host_cpu_s / r.divisor * 1000:.1f} | "
            f"{r.storage_cpu_s / r.divisor * 1000:.1f} | {versus} |"
        )
    head += ["", "## Targets", "", "| target | goal | measured | met |", "|---|---|---|---|"]
    for t in found:
        verdict = "yes" if t.met else f"no: {t.why}" if t.why else "no"
        head.append(f"| {t.name} | {t.goal} | {t.measured} | {verdict} |")
    head += _peer_lines(rows)
    notes = [r for r in rows if r.note]
    if notes:
        head += ["", "## Notes", ""] + [f"- {r.key}: {r.note}" for r in notes]
    return "\n".join(head) + "\n"


def _peer_lines(rows: list[Row]) -> list[str]:
    """durable-ext next to each peer row: throughput, latency or fan-out time as a ratio."""
    peers = [r for r in rows if r.key.startswith("P-")]
    chains, latency = _find(rows, "B3"), _find(rows, "B1-3")
    fan_out = next((r for r in rows if r.key.startswith("B4-")), None)
    if not peers:
        return []
    lines = ["", "## Next to the peers", "", "| peer row | durable-ext | peer | durable-ext / peer |"]
    lines.append("|---|---|---|---|")
    for peer in peers:
        if "throughput" in peer.scenario and chains is not None:
            ours, theirs, unit = chains.rate, peer.rate, "/s"
        elif "latency" in peer.scenario and latency is not None:
            ours, theirs, unit = latency.percentile(50) or 0.0, peer.percentile(50) or 0.0, " ms p50"
        elif "chord" in peer.scenario and fan_out is not None:
            ours, theirs, unit = fan_out.seconds * 1000, peer.seconds * 1000, " ms"
        else:
            continue
        ratio = f"{ours / theirs:.2f}" if theirs else ""
        lines.append(f"| {peer.key} {peer.scenario} | {ours:.1f}{unit} | {theirs:.1f}{unit} | {ratio} |")
    lines.append("")
    lines.append(
        "Peers run on the same machine in the same run. DBOS keeps its state in SQLite on the local disk and "
        "its in-process form runs steps as plain calls; Celery is a task queue without durable workflow "
        "state. The fan-out row compares the first B4 width with a chord of the same width. For throughput a "
        "ratio above 1 means durable-ext is faster; for latency and time, below 1 does."
    )
    return lines


def render_json(rows: list[Row], env: dict[str, Any], found: list[Target]) -> str:
    document = {
        "environment": env,
        "rows": [{**r.as_json(), **env} for r in rows],
        "targets": [t.__dict__ for t in found],
    }
    return json.dumps(document, indent=2) + "\n"
