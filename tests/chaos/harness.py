"""Chaos runs: chains and fan-outs on several workers while workers are killed (and storage restarts).

Slow chains end by signalling a counter entity, which clients signal too, over HTTP, all along the run:
at the end the counter must be exactly the number of slow chains plus the client signals that were
acknowledged. A kill waits for the client request in flight to be answered, so every client signal is
either acknowledged or refused (the entity's own episodes, on any worker, are killed mid-way as usual).

Used by ``test_chaos.py`` in a short form and by hand in a long form, on either store:

    .venv/bin/python -m tests.chaos.harness --chains 400 --fans 100 --counted 80 --kills 20 \\
        [--restart-storage] [--store postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from tests.chaos.stores import TERMINAL, chaos_store
from tests.e2e.hosting import RunningHost, start_host, stop_host, wait_until_serving

API = "/runtime/webhooks/durabletask"


@dataclass
class ChaosConfig:
    chains: int = 40
    chain_steps: int = 10
    fans: int = 10
    fan_width: int = 6
    counted: int = 10
    counted_steps: int = 5
    client_signal_every_s: float = 0.2
    workers: int = 3
    kills: int = 3
    kill_every_s: float = 2.0
    step_seconds: float = 0.5
    restart_storage: bool = False
    timeout_s: float = 240.0
    seed: int = 7
    store: str = "azurestorage"


@dataclass
class ChaosReport:
    store: str = ""
    instances: int = 0
    completed: int = 0
    wrong_output: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    kills: int = 0
    kills_during_work: int = 0
    takeover_seconds: list[float] = field(default_factory=list)
    """For each kill: how long until every queue the killed worker owned was owned again."""
    storage_restarts: int = 0
    activity_runs: int = 0
    duplicate_activity_runs: int = 0
    tasks_scheduled_twice: list[str] = field(default_factory=list)
    listing_differs: list[str] = field(default_factory=list)
    """Where the listings by created time or the counts disagree with the instances' rows."""
    client_signals_acknowledged: int = 0
    client_signals_refused: int = 0
    counter_expected: int = 0
    counter: int | None = None
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        return len(self.wrong_output)

    def summary(self) -> str:
        data = asdict(self) | {"lost": self.lost}
        data["wrong_output"], data["stuck"] = data["wrong_output"][:5], data["stuck"][:5]
        data["tasks_scheduled_twice"] = data["tasks_scheduled_twice"][:5]
        data["listing_differs"] = data["listing_differs"][:5]
        return json.dumps(data)


class Chaos:
    def __init__(self, config: ChaosConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = random.Random(config.seed)
        self.hub = f"Chaos{uuid.uuid4().hex[:8]}"
        self.run_log = workdir / "activity-runs.log"
        self.store = chaos_store(config.store, workdir)
        self.workers: list[RunningHost] = []
        self.spawned: list[RunningHost] = []
        self._kills: list[tuple[datetime, RunningHost]] = []
        self.report = ChaosReport(store=config.store)
        self._starts = 0
        self._quiet = asyncio.Lock()
        """Held by a client request in flight and by a kill or a storage restart: they never overlap."""
        self._clients_done = asyncio.Event()

    @property
    def env(self) -> dict[str, str]:
        step = str(self.config.step_seconds)
        run = {"CHAOS_RUN_LOG": str(self.run_log), "CHAOS_HUB": self.hub, "CHAOS_STEP_SECONDS": step}
        return run | self.store.worker_env()

    def _spawn(self) -> RunningHost:
        self._starts += 1
        log_path = self.workdir / f"worker-{self._starts}.log"
        worker = start_host(self.store.app(), self.store.connection_string, log_path, self.env)
        self.spawned.append(worker)
        return worker

    def expected(self) -> dict[str, Any]:
        c = self.config
        chains = {f"chain-{i}": [f"step {s}" for s in range(c.chain_steps)] for i in range(c.chains)}
        fans = {f"fan-{i}": c.fan_width for i in range(c.fans)}
        counted = {f"counted-{i}": [f"step {s}" for s in range(c.counted_steps)] for i in range(c.counted)}
        return chains | fans | counted

    async def run(self) -> ChaosReport:
        began = time.monotonic()
        await self.store.start()
        try:
            self.workers = [self._spawn() for _ in range(self.config.workers)]
            await asyncio.gather(*(wait_until_serving(w, 60) for w in self.workers))
            chaos = asyncio.create_task(self._make_chaos())  # kills begin while instances are started
            clients = asyncio.create_task(self._signal_counter())
            await self._start_instances()
            await self._wait_for_all()
            await chaos
            self._clients_done.set()
            await clients
            await self._check()
            self.report.takeover_seconds = self._takeovers()
        finally:
            for worker in self.workers:
                stop_host(worker)
            await self.store.stop()
        self.report.seconds = time.monotonic() - began
        return self.report

    async def _start_instances(self) -> None:
        c = self.config
        jobs = [(f"chain-{i}", "chaos_chain", c.chain_steps) for i in range(c.chains)]
        jobs += [(f"fan-{i}", "chaos_fan", c.fan_width) for i in range(c.fans)]
        jobs += [(f"counted-{i}", "chaos_counted", c.counted_steps) for i in range(c.counted)]
        self.report.instances = len(jobs)
        async with aiohttp.ClientSession() as http:
            for instance_id, name, arg in jobs:
                await self._start_one(http, f"{API}/orchestrators/{name}/{instance_id}", {"n": arg})

    async def _start_one(self, http: aiohttp.ClientSession, path: str, body: Any) -> None:
        """Start through a live worker; one that was just replaced may not serve yet (nothing was sent)."""
        for _ in range(100):
            async with self._quiet:
                worker = self.rng.choice(self.workers)
                try:
                    async with http.post(f"{worker.base_url}{path}", json=body) as response:
                        assert response.status == 202, await response.text()
                        return
                except aiohttp.ClientConnectionError:
                    pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"no worker took {path}")

    async def _make_chaos(self) -> None:
        c = self.config
        for k in range(c.kills):
            await asyncio.sleep(c.kill_every_s)
            busy = not await self._all_done()
            index = self.rng.randrange(len(self.workers))
            victim = self.workers[index]
            async with self._quiet:
                os.killpg(victim.process.pid, signal.SIGKILL)
                victim.process.wait()
                self._kills.append((datetime.now(), victim))
                self.report.kills += 1
                self.report.kills_during_work += int(busy)
                if c.restart_storage and k == c.kills // 2:
                    await self._restart_storage()
                self.workers[index] = self._spawn()

    async def _signal_counter(self) -> None:
        """Signal ``add 1`` to the counter through a random live worker until the instances are done."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            while not self._clients_done.is_set():
                await asyncio.sleep(self.config.client_signal_every_s)
                async with self._quiet:
                    worker = self.rng.choice(self.workers)
                    url = f"{worker.base_url}{API}/entities/counter/chaos?op=add"
                    try:
                        async with http.post(url, json=1) as response:
                            acknowledged = response.status == 202
                    except aiohttp.ClientError:
                        acknowledged = False  # not serving yet (just restarted)
                    if acknowledged:
                        self.report.client_signals_acknowledged += 1
                    else:
                        self.report.client_signals_refused += 1

    def _takeovers(self) -> list[float]:
        """From the workers' logs: per kill, the time until its queues were owned by someone else."""
        owned_lines = [
            (datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f"), m.group(2), worker)
            for worker in self.spawned
            for m in re.finditer(r"^(\S+ \S+) INFO .* owns (\S+) \(epoch", worker.log(), re.MULTILINE)
        ]
        released = {
            worker.log_path: set(re.findall(r"handed off (\S+)", worker.log())) for worker in self.spawned
        }
        takeovers = []
        for killed_at, victim in self._kills:
            held = {p for t, p, w in owned_lines if w is victim and t <= killed_at} - released[
                victim.log_path
            ]
            retaken = [
                min((t for t, p, w in owned_lines if p == partition and t > killed_at), default=None)
                for partition in held
            ]
            if held and all(t is not None for t in retaken):
                takeovers.append(round(max((t - killed_at).total_seconds() for t in retaken if t), 1))
        return takeovers

    async def _restart_storage(self) -> None:
        await self.store.restart()
        self.report.storage_restarts += 1

    async def _all_done(self) -> bool:
        try:
            statuses = await self.store.statuses(self.hub)
        except Exception:
            return False  # storage is restarting
        done = [s for s, _ in statuses.values() if s in TERMINAL]
        return len(done) == self.report.instances

    async def _wait_for_all(self) -> None:
        deadline = time.monotonic() + self.config.timeout_s
        while time.monotonic() < deadline:
            if await self._all_done():
                return
            await asyncio.sleep(1.0)

    async def _check(self) -> None:
        expected = self.expected()
        statuses = await self.store.statuses(self.hub)
        for instance_id, output in expected.items():
            status, found = statuses.get(instance_id, (None, None))
            if status not in TERMINAL:
                self.report.stuck.append(f"{instance_id}: {status}")
            elif status != "Completed" or found != output:
                self.report.wrong_output.append(f"{instance_id}: {status} {json.dumps(found)}")
            else:
                self.report.completed += 1
        runs = Counter(self.run_log.read_text().splitlines()) if self.run_log.exists() else Counter()
        self.report.activity_runs = sum(runs.values())
        self.report.duplicate_activity_runs = sum(n - 1 for n in runs.values() if n > 1)
        self.report.tasks_scheduled_twice = await self.store.scheduled_twice(self.hub, list(expected))
        for _ in range(5):  # an index write may still be on its way beside the last status write
            self.report.listing_differs = await self.store.listing_differs(self.hub)
            if not self.report.listing_differs:
                break
            await asyncio.sleep(1.0)
        self.report.counter_expected = self.config.counted + self.report.client_signals_acknowledged
        self.report.counter = await self._settled_counter()

    async def _settled_counter(self) -> int | None:
        """The counter once the signals still on their way have arrived (unchanged for a while)."""
        url = f"{self.workers[0].base_url}{API}/entities/counter/chaos"
        value, unchanged_since = None, time.monotonic()
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                async with http.get(url) as response:
                    now = await response.json() if response.status == 200 else None
                if now != value:
                    value, unchanged_since = now, time.monotonic()
                elif (
                    value is not None
                    and value >= self.report.counter_expected
                    and (time.monotonic() - unchanged_since > 5)
                ):
                    break
                await asyncio.sleep(0.5)
        return value


async def run_chaos(config: ChaosConfig, workdir: Path | None = None) -> ChaosReport:
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    return await Chaos(config, workdir).run()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chains", type=int, default=400)
    parser.add_argument("--chain-steps", type=int, default=10)
    parser.add_argument("--fans", type=int, default=100)
    parser.add_argument("--fan-width", type=int, default=6)
    parser.add_argument("--counted", type=int, default=80, help="slow chains that each signal the counter")
    parser.add_argument("--client-signal-every", type=float, default=0.1)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--kill-every", type=float, default=5.0)
    parser.add_argument("--step-seconds", type=float, default=0.2)
    parser.add_argument("--restart-storage", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", choices=("azurestorage", "postgres"), default="azurestorage")
    args = parser.parse_args()
    config = ChaosConfig(
        chains=args.chains,
        chain_steps=args.chain_steps,
        fans=args.fans,
        fan_width=args.fan_width,
        counted=args.counted,
        client_signal_every_s=args.client_signal_every,
        kills=args.kills,
        kill_every_s=args.kill_every,
        step_seconds=args.step_seconds,
        restart_storage=args.restart_storage,
        timeout_s=args.timeout,
        seed=args.seed,
        store=args.store,
    )
    print(asyncio.run(run_chaos(config)).summary())


if __name__ == "__main__":
    main()
