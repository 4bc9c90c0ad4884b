"""Host CPU per orchestration of this checkout against another one (a worktree of an older commit), in
one run: chains of 3 and of 5, 50 in flight, each on a fresh Azurite, the two sides alternating.

    git worktree add /tmp/base <commit>
    python -m bench.cpu_compare /tmp/base --rounds 3        # writes bench/cpu_results.md

Each measurement runs this file as a script in a process whose import path starts with the tree it
measures, so the older tree needs nothing new: only ``bench.scenarios.InProcess`` and the host.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
SCENARIOS = (("B3", 3), ("B2", 5))


async def measure(count: int) -> dict[str, dict[str, float]]:
    """In the measured tree's process: both scenarios, host CPU ms per orchestration and the rate."""
    from bench.progress import Progress
    from bench.scenarios import InProcess
    from durable_ext.host.azurite import AzuriteProcess
    from durable_ext.host.host import FunctionsHost

    found = {}
    for key, steps in SCENARIOS:
        async with AzuriteProcess() as azurite:
            os.environ["AzureWebJobsStorage"] = azurite.connection_string  # noqa: SIM112
            host = FunctionsHost(Path("bench") / "app", port=0)
            await host.start()
            try:
                bench = InProcess(host, azurite.pid, Progress(1))
                for _ in range(5):  # warm up
                    await bench.run("chain", 1, f"warm-{time.time_ns()}")
                row = await bench.throughput(key, steps, count, 50)
                found[key] = {"cpu_ms": row.host_cpu_s / row.divisor * 1000, "per_s": row.rate}
            finally:
                await host.stop()
    return found


def run_side(tree: Path, count: int) -> dict[str, dict[str, float]]:
    done = subprocess.run(
        [sys.executable, str(HERE), "--measure", str(count)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("{"))
    return dict(json.loads(line))


def main(base: Path, rounds: int, count: int, output: Path) -> str:
    here = HERE.parents[1]
    lines = [
        f"Host CPU per orchestration, ms, and orchestrations per second: {count} chains, 50 in flight, "
        f"base = `{base.name}`, new = this checkout, alternating.",
        "",
        "| round | chain of 3: base → new | ratio | per s | chain of 5: base → new | ratio | per s |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in range(1, rounds + 1):
        old, new = run_side(base, count), run_side(here, count)
        cells = []
        for key, _ in SCENARIOS:
            a, b = old[key], new[key]
            cells += [
                f"{a['cpu_ms']:.1f} → {b['cpu_ms']:.1f}",
                f"{b['cpu_ms'] / a['cpu_ms']:.2f}",
                f"{a['per_s']:.1f} → {b['per_s']:.1f}",
            ]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    output.write_text(text)
    return text


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        sys.path.remove(str(HERE.parent))  # the measured tree's bench package, not this folder
        print(json.dumps(asyncio.run(measure(int(sys.argv[2])))))
        sys.exit(0)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", type=Path, help="a checkout of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chains", type=int, default=200)
    parser.add_argument("--output", type=Path, default=HERE.parent / "cpu_results.md")
    args = parser.parse_args()
    print(main(args.base.resolve(), args.rounds, args.chains, args.output))
