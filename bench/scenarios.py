"""The scenarios that run inside one host process (B1-B8), each returning a measured row."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from bench.measure import Meter, Row
from bench.progress import Progress
from durable_ext.core.entities import EntityId, SchedulerState
from durable_ext.core.history import OrchestrationStatus
from durable_ext.host.host import FunctionsHost

Reached = Callable[[Any], bool]


def finished(runtime_state: Any) -> bool:
    return bool(runtime_state.status.is_terminal)


def running(runtime_state: Any) -> bool:
    return bool(runtime_state.status == OrchestrationStatus.Running)


def sdk_input(value: object) -> str:
    """The input as the SDK client would store it (JSON of df_dumps)."""
    return json.dumps(json.dumps(value))


class CompletionWatch:
    """Resolves a future when an episode commit leaves an instance in a given state (no polling load).

    It wraps the service's ``complete_orchestration_work_item``, the provider protocol's commit, so it
    watches any provider the same way."""

    def __init__(self, host: FunctionsHost) -> None:
        assert host.extension is not None
        service = host.extension.service
        self._waiting: dict[str, tuple[Reached, asyncio.Future[None]]] = {}
        original = service.complete_orchestration_work_item

        async def complete_and_notify(item: Any, result: Any) -> None:
            await original(item, result)
            runtime_state = result.runtime_state
            waiting = self._waiting.get(runtime_state.instance_id or "")
            if waiting is not None and waiting[0](runtime_state):
                del self._waiting[runtime_state.instance_id]
                if not waiting[1].done():
                    waiting[1].set_result(None)

        service.complete_orchestration_work_item = complete_and_notify  # type: ignore[method-assign]

    def expect(self, instance_id: str, reached: Reached = finished) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[instance_id] = (reached, future)
        return future


class InProcess:
    """Scenarios against a host running in this process, measured with its own operation counter."""

    def __init__(
        self, host: FunctionsHost, storage_pid: int | None, progress: Progress, *, storage_tree: bool = False
    ) -> None:
        assert host.extension is not None
        self.client = host.extension.client
        self.service = host.extension.service
        self.watch = CompletionWatch(host)
        self.storage_pid = storage_pid
        self.storage_tree = storage_tree
        self.progress = progress

    def meter(self) -> Meter:
        clients = getattr(self.service, "clients", None)  # Azure Storage counts its requests
        return Meter(getattr(clients, "operations", None), self.storage_pid, tree=self.storage_tree)

    async def settle(self) -> None:
        """Let the background deletes of the measured work land inside the measurement."""
        background = getattr(self.service, "background", None)
        if background is not None:
            await background.drain()

    async def run(self, name: str, input_value: object, instance_id: str, timeout_s: float = 600) -> None:
        done = self.watch.expect(instance_id)
        await self.client.start(name, sdk_input(input_value), instance_id)
        await asyncio.wait_for(done, timeout_s)

    async def latency(self, key: str, steps: int, runs: int) -> Row:
        """B1: start-to-``Completed`` of chains of ``steps`` activities, one at a time."""
        self.progress.start(f"{key} latency, chain of {steps}", runs)
        samples: list[float] = []
        with self.meter() as meter:
            for run in range(runs):
                began = time.perf_counter()
                await self.run("chain", steps, f"{key}-{run}-{time.time_ns()}")
                samples.append((time.perf_counter() - began) * 1000)
                self.progress.advance()
            await self.settle()
        self.progress.finish()
        return meter.row(key, f"latency, chain of {steps}, one at a time", runs, latencies_ms=samples)

    async def throughput(self, key: str, steps: int, total: int, in_flight: int) -> Row:
        """B2/B3: ``total`` chains with ``in_flight`` running at any time (closed loop)."""
        self.progress.start(f"{key} throughput, chains of {steps}", total)
        gate = asyncio.Semaphore(in_flight)
        samples: list[float] = []

        async def one(index: int) -> None:
            async with gate:
                began = time.perf_counter()
                await self.run("chain", steps, f"{key}-{index}-{time.time_ns()}")
                samples.append((time.perf_counter() - began) * 1000)
                self.progress.advance()

        with self.meter() as meter:
            await asyncio.gather(*(one(i) for i in range(total)))
            await self.settle()
        self.progress.finish()
        scenario = f"throughput, chains of {steps}, {in_flight} in flight"
        return meter.row(key, scenario, total, latencies_ms=samples)

    async def one_instance(
        self, key: str, name: str, input_value: object, scenario: str, count: int, unit: str
    ) -> Row:
        """One orchestration, measured from start to ``Completed``; ``count`` units of work in it."""
        self.progress.start(f"{key} {scenario}", 1)
        with self.meter() as meter:
            await self.run(name, input_value, f"{key}-{time.time_ns()}")
            await self.settle()
        self.progress.finish()
        return meter.row(key, scenario, count, unit=unit, per=1)

    async def fan_out(self, key: str, width: int) -> Row:
        """B4: one orchestration calling ``width`` activities at once and waiting for all."""
        scenario = f"fan-out/fan-in of {width} activities"
        return await self.one_instance(key, "fan_out", width, scenario, width, "activities")

    async def sequence(self, key: str, steps: int) -> Row:
        """B5: one orchestration calling ``steps`` activities one after another."""
        scenario = f"{steps} sequential activities, one instance"
        return await self.one_instance(key, "chain", steps, scenario, steps, "activities")

    async def events(self, key: str, count: int, senders: int = 16) -> Row:
        """B6: one orchestration waiting for ``count`` external events, raised by concurrent senders."""
        self.progress.start(f"{key} external events", count)
        instance_id = f"{key}-{time.time_ns()}"
        started = self.watch.expect(instance_id, running)
        await self.client.start("events", sdk_input(count), instance_id)
        await asyncio.wait_for(started, 60)
        done = self.watch.expect(instance_id)
        gate = asyncio.Semaphore(senders)

        async def send(index: int) -> None:
            async with gate:
                await self.client.raise_event(instance_id, "tick", json.dumps(index))
                self.progress.advance()

        with self.meter() as meter:
            await asyncio.gather(*(send(i) for i in range(count)))
            await asyncio.wait_for(done, 600)
            await self.settle()
        self.progress.finish()
        scenario = f"external events to one instance, {senders} senders"
        return meter.row(key, scenario, count, unit="events", per=1)

    async def entity_signals(self, key: str, total: int, senders: int = 16) -> Row:
        """B7: ``total`` signals to one counter entity from concurrent senders."""
        self.progress.start(f"{key} entity signals", total)
        entity = EntityId.of("counter", f"{key}-{time.time_ns()}")

        def counted(runtime_state: Any) -> bool:
            state = SchedulerState.from_json(runtime_state.input).state
            return state is not None and json.loads(state) >= total

        done = self.watch.expect(entity.instance_id, counted)
        gate = asyncio.Semaphore(senders)

        async def one() -> None:
            async with gate:
                await self.client.signal_entity(entity, "add", sdk_input(1))
                self.progress.advance()

        with self.meter() as meter:
            await asyncio.gather(*(one() for _ in range(total)))
            await asyncio.wait_for(done, 600)
            await self.settle()
        self.progress.finish()
        state = await self.client.get_state(entity.instance_id)
        batches = state.generation if state is not None else 0
        scenario = f"entity signals to one counter, {senders} senders ({batches} batches)"
        return meter.row(key, scenario, total, unit="operations", per=1)

    async def entity_calls(self, key: str, calls: int) -> Row:
        """B7: one orchestration calling one entity ``calls`` times in a row (a round trip each)."""
        job = {"key": f"{key}-{time.time_ns()}", "calls": calls}
        scenario = "entity calls from one orchestration, one at a time"
        return await self.one_instance(key, "call_counter", job, scenario, calls, "calls")

    async def first_start_after_idle(self, key: str, idle_s: float) -> Row:
        """B8: after ``idle_s`` seconds with nothing to do, the latency of one chain of one activity."""
        self.progress.start(f"{key} idle for {idle_s:.0f} s, then one start", int(idle_s))
        for _ in range(int(idle_s)):
            await asyncio.sleep(1)
            self.progress.advance()
        with self.meter() as meter:
            began = time.perf_counter()
            await self.run("chain", 1, f"{key}-{time.time_ns()}")
            latency_ms = (time.perf_counter() - began) * 1000
            await self.settle()
        self.progress.finish()
        scenario = f"first start after {idle_s:.0f} s idle, chain of 1"
        return meter.row(key, scenario, 1, latencies_ms=[latency_ms])
