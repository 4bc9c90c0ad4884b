"""What every scenario records: count, time, latencies, storage operations and CPU, in one row."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any


def _stat(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (the state is the first)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of another process (0 when it cannot be read)."""
    fields = _stat(pid) if pid is not None else None
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_s(pid: int | None) -> float:
    """CPU seconds of a process, its children that ended, and its live children (a PostgreSQL server
    and its backends: a backend's time moves to the server's when its connection closes)."""
    fields = _stat(pid) if pid is not None else None
    if fields is None:
        return 0.0
    own = sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
    children = [n for n in os.listdir("/proc") if n.isdigit() and (_stat(n) or ["", ""])[1] == str(pid)]
    return own + sum(process_cpu_s(int(n)) for n in children)


@dataclass
class Row:
    """One scenario's figures; ``unit`` is what ``count`` counts (orchestrations, events, ...)."""

    key: str
    scenario: str
    count: int
    seconds: float
    unit: str = "orchestrations"
    latencies_ms: list[float] = field(default_factory=list)
    operations: dict[str, int] = field(default_factory=dict)
    host_cpu_s: float = 0.0
    storage_cpu_s: float = 0.0
    per: int = 0
    """How many orchestrations the operations and CPU are divided by (0: ``count``)."""
    note: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def divisor(self) -> int:
        return self.per or self.count

    @property
    def operations_per_orchestration(self) -> float | None:
        return sum(self.operations.values()) / self.divisor if self.operations else None

    def percentile(self, q: int) -> float | None:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else None
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "scenario": self.scenario,
            "count": self.count,
            "unit": self.unit,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.rate, 2),
            "p50_ms": _round(self.percentile(50)),
            "p95_ms": _round(self.percentile(95)),
            "p99_ms": _round(self.percentile(99)),
            "storage_operations": self.operations,
            "storage_operations_per_orchestration": _round(self.operations_per_orchestration),
            "host_cpu_s_per_orchestration": round(self.host_cpu_s / self.divisor, 5),
            "storage_cpu_s_per_orchestration": round(self.storage_cpu_s / self.divisor, 5),
            "note": self.note,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class Meter:
    """Takes the host's CPU time, the storage emulator's CPU time and the operation counts at the start
    and gives the differences at the end."""

    def __init__(self, operations: Any | None, storage_pid: int | None, *, tree: bool = False) -> None:
        self.operations = operations
        self.storage_pid = storage_pid
        self.storage_cpu_of = process_tree_cpu_s if tree else process_cpu_s
        """The storage's CPU: one process (Azurite), or a process tree (PostgreSQL's backends)."""

    def __enter__(self) -> Meter:
        self.began = time.perf_counter()
        self.cpu = time.process_time()
        self.storage_cpu = self.storage_cpu_of(self.storage_pid)
        self.ops = self.operations.snapshot() if self.operations is not None else {}
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.began
        self.host_cpu_s = time.process_time() - self.cpu
        self.storage_cpu_s = self.storage_cpu_of(self.storage_pid) - self.storage_cpu
        after = self.operations.snapshot() if self.operations is not None else {}
        self.spent = {k: v - self.ops.get(k, 0) for k, v in after.items() if v - self.ops.get(k, 0)}

    def row(self, key: str, scenario: str, count: int, **extra: Any) -> Row:
        return Row(
            key,
            scenario,
            count,
            self.seconds,
            operations=self.spent,
            host_cpu_s=self.host_cpu_s,
            storage_cpu_s=self.storage_cpu_s,
            **extra,
        )
