"""Exactly once through crashes: a worker killed between any two storage writes of an episode's commit.

Each target episode is run once to count the storage writes of its commit, then again on a fresh task
hub for every crash point: worker A dies (every later storage call it makes fails, as if its process had
ended) just before write ``k`` of that commit, its leases are broken as their expiry would, and worker B
finishes the work. Every receiver must have applied what the episode sent exactly once: the entity
counters say so, and the orchestrations end with the right output.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import azure.durable_functions as df
import pytest
from azure.storage.blob.aio import BlobLeaseClient, BlobServiceClient

from durable_ext.azurestorage.partition_manager import LeaseOptions
from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.core.client import TaskHubClient
from durable_ext.core.entities import EntityId
from durable_ext.core.history import OrchestrationStatus
from durable_ext.core.service import EpisodeResult, OrchestrationWorkItem
from durable_ext.core.worker import TaskHubWorker
from durable_ext.extension.entity_runner import SdkEntityRunner
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner

from .test_engine import registry_of

app = df.DFApp()


@app.entity_trigger(context_name="context")
def tally(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
        context.set_state(value)
    context.set_result(value)


@app.orchestration_trigger(context_name="context")
def sender(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """One episode sends a signal, a call and a sub-orchestration start."""
    context.signal_entity(df.EntityId("tally", "signalled"), "add", 1)
    call = context.call_entity(df.EntityId("tally", "called"), "add", 10)
    child = context.call_sub_orchestrator("child", "from sender")
    results = yield context.task_all([call, child])
    return results


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext) -> str:
    context.signal_entity(df.EntityId("tally", "child"), "add", 1)
    return f"child {context.get_input()}"


@app.orchestration_trigger(context_name="context")
def looper(context: df.DurableOrchestrationContext) -> int:
    """One episode runs three generations: a signal, continue-as-new, a signal, ..."""
    n = context.get_input()
    context.signal_entity(df.EntityId("tally", "looped"), "add", 1)
    if n < 3:
        context.continue_as_new(n + 1)
    return n


@app.orchestration_trigger(context_name="context")
def fanner(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    """One episode of more rows than one table transaction takes: its commit is two transactions."""
    context.signal_entity(df.EntityId("tally", "fanned"), "add", 1)
    results = yield context.task_all([context.call_activity("echo", i) for i in range(FAN_WIDTH)])
    return sum(results)


@app.activity_trigger(input_name="value")
def echo(value: int) -> int:
    return value


FAN_WIDTH = 120
REGISTRY = registry_of(app)

WRITES = ("queue.put", "queue.delete", "queue.update", "table.write", "table.batch", "blob.write")
_in_target = contextvars.ContextVar("in_target", default=False)


class WorkerDied(Exception):
    """What every storage call of a killed worker raises."""


@dataclass
class Killer:
    """Kills its worker just before write ``kill_before`` (0-based) of the target episode's commit."""

    target: str
    kill_before: int | None = None
    writes: list[str] = field(default_factory=list)
    dead: asyncio.Event = field(default_factory=asyncio.Event)
    committed: asyncio.Event = field(default_factory=asyncio.Event)
    _armed: bool = True

    def watch(self, operation: str) -> None:
        if self.dead.is_set():
            raise WorkerDied(operation)
        if not _in_target.get() or operation not in WRITES:
            return
        if self.kill_before is not None and len(self.writes) == self.kill_before:
            self.dead.set()
            raise WorkerDied(operation)
        self.writes.append(operation)

    def install(self, service: AzureStorageOrchestrationService) -> None:
        service.clients.operations.watchers.append(self.watch)
        complete = service.complete_orchestration_work_item

        async def complete_watched(item: OrchestrationWorkItem, result: EpisodeResult) -> None:
            if item.instance_id != self.target or not self._armed:
                return await complete(item, result)
            self._armed = False  # only the target's first episode
            token = _in_target.set(True)
            try:
                await complete(item, result)
                await service.background.drain()  # its deletes are part of the commit
                if self.kill_before == len(self.writes):
                    self.dead.set()  # killed right after the last write
            finally:
                _in_target.reset(token)
                self.committed.set()

        service.complete_orchestration_work_item = complete_watched  # type: ignore[method-assign]


def _settings(connection_string: str, hub: str) -> AzureStorageSettings:
    return AzureStorageSettings(
        hub_name=hub,
        connection_string=connection_string,
        partition_count=1,
        control_queue_visibility_timeout_s=3,
        work_item_queue_visibility_timeout_s=3,
        max_queue_polling_interval_s=0.5,
        use_app_lease=False,
        leases=LeaseOptions(renew_interval_s=2.0, acquire_interval_s=0.5),
    )


@contextlib.asynccontextmanager
async def _worker(
    connection_string: str, hub: str, killer: Killer | None = None
) -> AsyncIterator[AzureStorageOrchestrationService]:
    """A worker with the entity runner; unlike ``workers.running_worker`` its stop tolerates a worker
    whose every storage call fails (a killed one)."""
    service = AzureStorageOrchestrationService(_settings(connection_string, hub))
    if killer is not None:
        killer.install(service)
    executor = ThreadPoolExecutor(2)
    worker = TaskHubWorker(
        service,
        SdkOrchestrationRunner(REGISTRY, executor),
        SdkActivityRunner(REGISTRY),
        max_concurrent_orchestrations=4,
        max_concurrent_activities=4,
        entities=SdkEntityRunner(REGISTRY, executor, max_batch_size=10),
    )
    await worker.start()
    try:
        yield service
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.stop(timeout_s=1), 10)
        with contextlib.suppress(Exception):
            await service.close()
        executor.shutdown(wait=False)


async def _break_leases(connection_string: str, service: AzureStorageOrchestrationService) -> None:
    """What the expiry of a dead worker's leases does, without waiting for it."""
    async with BlobServiceClient.from_connection_string(connection_string) as blobs:
        container = blobs.get_container_client(service.names.leases_container)
        async for blob in container.list_blobs():
            if blob.lease.state == "leased":
                await BlobLeaseClient(container.get_blob_client(blob.name)).break_lease(0)


@dataclass
class Scenario:
    target: str
    start: Callable[[TaskHubClient], Awaitable[None]]
    expected_counts: dict[str, int]
    expected_outputs: dict[str, Any]


def _json(value: Any) -> str:
    """An input as the SDK's client sends it (the JSON of its JSON text)."""
    return json.dumps(json.dumps(value))


async def _start_sender(client: TaskHubClient) -> None:
    await client.start("sender", None, "sender-1")


async def _start_looper(client: TaskHubClient) -> None:
    await client.start("looper", _json(1), "looper-1")


async def _start_fanner(client: TaskHubClient) -> None:
    await client.start("fanner", None, "fanner-1")


async def _signal(client: TaskHubClient) -> None:
    await client.signal_entity(EntityId.of("tally", "clientfed"), "add", _json(100))


SENDER_DONE = {"sender-1": [10, "child from sender"]}
SENDER = Scenario("sender-1", _start_sender, {"signalled": 1, "called": 10, "child": 1}, SENDER_DONE)
LOOPER = Scenario("looper-1", _start_looper, {"looped": 3}, {"looper-1": 3})
CALLED = Scenario("@tally@called", _start_sender, {"called": 10}, SENDER_DONE)
FANNER = Scenario("fanner-1", _start_fanner, {"fanned": 1}, {"fanner-1": sum(range(FAN_WIDTH))})
CLIENT_FED = Scenario("@tally@clientfed", _signal, {"clientfed": 100}, {})


async def _run(connection_string: str, hub: str, scenario: Scenario, kill_before: int | None) -> Killer:
    killer = Killer(scenario.target, kill_before)
    async with _worker(connection_string, hub, killer) as first:
        client = TaskHubClient(first)
        await scenario.start(client)
        await asyncio.wait_for(killer.committed.wait(), 30)
        if killer.dead.is_set():
            await _break_leases(connection_string, first)
    if not killer.dead.is_set():
        return killer  # the calibration run: the first worker stays to the end
    async with _worker(connection_string, hub) as second:
        await _check(TaskHubClient(second), scenario, f"killed before write {kill_before} {killer.writes}")
    return killer


async def _check(client: TaskHubClient, scenario: Scenario, where: str) -> None:
    for instance_id, output in scenario.expected_outputs.items():
        state = await client.wait_for_completion(instance_id, 60)
        assert state.status == OrchestrationStatus.Completed, (where, state)
        assert json.loads(state.output or "null") == output, where
    for key, count in scenario.expected_counts.items():
        entity, value = EntityId.of("tally", key), None
        for _ in range(300):
            status = await client.read_entity(entity)
            value = None if status is None or status.state is None else json.loads(status.state)
            if value == count:
                break
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # a second delivery to any of them would land by now
    for key, count in scenario.expected_counts.items():
        status = await client.read_entity(EntityId.of("tally", key))
        assert status is not None and json.loads(status.state or "null") == count, (where, key, status)


async def _every_crash_point(
    connection_string: str, hub_name: str, scenario: Scenario, writes: int, *, every_put: bool = True
) -> None:
    """Kill before each write of the commit in turn, and after the last (``every_put`` false: before
    the first of the sends only, they are alike)."""
    calibration = Killer(scenario.target)
    async with _worker(connection_string, f"{hub_name}c", calibration) as service:
        await scenario.start(TaskHubClient(service))
        await asyncio.wait_for(calibration.committed.wait(), 30)
        await _check(TaskHubClient(service), scenario, "no crash")
    done = calibration.writes
    assert len(done) == writes, done
    points = [k for k in range(writes + 1) if every_put or k == 0 or k == writes or done[k] != "queue.put"]
    for k in points:
        killer = await _run(connection_string, f"{hub_name}k{k}", scenario, k)
        assert killer.dead.is_set(), killer.writes
        assert len(killer.writes) == k, killer.writes


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("scenario", "writes", "every_put"),
    [
        # the three sends, the history, the status row (Running), the delete of the start
        pytest.param(SENDER, 6, True, id="signal-call-and-child-start"),
        pytest.param(LOOPER, 6, True, id="continue-as-new-twice"),
        # the response, the history, the status row, the delete of the request
        pytest.param(CALLED, 4, True, id="entity-answers-a-call"),
        pytest.param(CLIENT_FED, 3, True, id="entity-takes-a-client-signal"),
        # a signal and 120 activities, the two history transactions, the status row, the delete
        pytest.param(FANNER, FAN_WIDTH + 5, False, id="commit-of-two-transactions"),
    ],
)
async def test_every_receiver_applies_what_an_episode_sent_once(
    connection_string: str, hub_name: str, scenario: Scenario, writes: int, every_put: bool
) -> None:
    await _every_crash_point(connection_string, hub_name, scenario, writes, every_put=every_put)
