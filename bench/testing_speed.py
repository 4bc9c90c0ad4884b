"""What testing an app costs: the samples' test suite on the memory provider and on Azurite, side by side
in one run, and a thirty-day monitor orchestration under time skipping.

    make bench-testing
    .venv/bin/python -m bench.testing_speed --quick     # one repetition, a shorter monitor

Each suite run is ``pytest`` in a subprocess, as a user runs it (collection, the host's start and stop,
and for Azurite its Node process included); the figure is the median wall time of the repetitions.
Writes bench/testing_results.md and prints the table.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.measure import Row
from bench.report import environment
from durable_ext.testing import DurableTestHost

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SUITE = ("samples/tests/test_with_durable_fixture.py", "samples/tests/test_mocks.py")
"""The sample tests that run on either storage (the others pin theirs with the durable marker)."""
MONITOR_DAYS = 30


@dataclass(frozen=True)
class Sizes:
    repeats: int
    monitor_intervals: tuple[timedelta, ...]


FULL = Sizes(3, (timedelta(days=1), timedelta(hours=6)))
QUICK = Sizes(1, (timedelta(days=1),))


@dataclass(frozen=True)
class SuiteRun:
    passed: int
    seconds: float
    """Wall time of the subprocess: Python's start, imports, collection, hosts, tests, teardown."""
    in_session_s: float
    """The time pytest reports for the session (from collection to the hosts' stop)."""


def suite_run(storage: str) -> SuiteRun:
    """One pytest run of :data:`SUITE` on ``storage``."""
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--durable-storage",
            storage,
            *SUITE,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - began
    passed = re.search(r"(\d+) passed.* in ([\d.]+)s", done.stdout)
    if done.returncode != 0 or passed is None:
        raise RuntimeError(
            f"The sample tests failed on {storage}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
        )
    return SuiteRun(int(passed.group(1)), seconds, float(passed.group(2)))


def suite_row(storage: str, repeats: int) -> Row:
    runs = [suite_run(storage) for _ in range(repeats)]
    seconds = statistics.median(run.seconds for run in runs)
    note = f"pytest reports {statistics.median(run.in_session_s for run in runs):.2f} s for its session"
    if repeats > 1:
        note += f"; range {min(r.seconds for r in runs):.2f}-{max(r.seconds for r in runs):.2f} s"
    return Row(
        f"T1-{storage}",
        f"sample test suite on {storage} (pytest subprocess, median of {repeats})",
        runs[0].passed,
        seconds,
        unit="tests",
        note=note,
    )


def monitor_row(durable: DurableTestHost, interval: timedelta) -> Row:
    """A monitor that checks every ``interval`` for thirty days, under time skipping."""
    checks = int(timedelta(days=MONITOR_DAYS) / interval)
    job = {"checks_until_done": checks + 1, "interval_s": interval.total_seconds(), "timeout_s": 86400 * 30}
    began_durable = durable.now
    began = time.perf_counter()
    status = durable.wait_for_completion(durable.start("job_monitor", job))
    seconds = time.perf_counter() - began
    passed = durable.now - began_durable
    if status.output != {"done": False, "checks": checks}:
        raise RuntimeError(f"The monitor ended with {status.output!r}, not {checks} checks")
    hours = interval.total_seconds() / 3600
    return Row(
        f"T2-{hours:g}h",
        f"{MONITOR_DAYS}-day monitor, a check every {hours:g} h, time skipping (memory)",
        checks,
        seconds,
        unit="checks",
        note=f"{passed.days} days of durable time passed",
    )


def monitor_rows(intervals: tuple[timedelta, ...]) -> list[Row]:
    with DurableTestHost(REPO_ROOT, storage="memory", timeout_s=600) as durable:
        durable.wait_for_completion(durable.start("hello_cities"))  # warm up: app imported, pools started
        return [monitor_row(durable, interval) for interval in intervals]


def render(memory: Row, azurite: Row, monitors: list[Row], env: dict[str, object]) -> str:
    lines = [
        f"Run {env['date']} on {env['machine']} (load {env['load_before']} before): Python {env['python']}, "
        f"Node {env['node']}, Azurite {env['azurite']} in memory, azure-functions-durable "
        f"{env['azure-functions-durable']}.",
        "",
        "Regenerate with `make bench-testing`. T1 runs the same tests (" + ", ".join(SUITE) + ") with "
        "`--durable-storage memory` and `--durable-storage azurite`; T2 runs in this process. Every "
        "episode replays the whole history through the SDK, so a monitor's time grows with the square of "
        "its checks.",
        "",
        "| # | scenario | count | s | per s | ratio | note |",
        "|---|---|---|---|---|---|---|",
        _line(memory, "1.0x"),
        _line(azurite, f"{azurite.seconds / memory.seconds:.1f}x the time on memory"),
        *(_line(row, f"{MONITOR_DAYS * 86400 / row.seconds:,.0f}x the wall clock") for row in monitors),
    ]
    return "\n".join(lines) + "\n"


def _line(row: Row, ratio: str) -> str:
    return (
        f"| {row.key} | {row.scenario} | {row.count} {row.unit} | {row.seconds:.2f} | {row.rate:.1f} | "
        f"{ratio} | {row.note} |"
    )


def main(sizes: Sizes, output: Path) -> str:
    env = environment()
    memory, azurite = suite_row("memory", sizes.repeats), suite_row("azurite", sizes.repeats)
    table = render(memory, azurite, monitor_rows(sizes.monitor_intervals), env)
    (output / "testing_results.md").write_text(table)
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repetition and a daily check only")
    parser.add_argument("--output", type=Path, default=BENCH_DIR, help="where to write testing_results.md")
    args = parser.parse_args()
    print(main(QUICK if args.quick else FULL, args.output))
