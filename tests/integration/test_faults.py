"""Faults: poison messages, long activities that must not run twice, stray and stale messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.core.client import TaskHubClient
from durable_ext.core.history import EventType, OrchestrationStatus, event
from durable_ext.core.messages import TaskMessage
from durable_ext.core.replay import ReplayOutcome
from durable_ext.core.state import OrchestrationRuntimeState
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner

from .test_engine import REGISTRY, _sdk_input
from .workers import running_worker

THRESHOLD = 2


class BrokenEngine(SdkOrchestrationRunner):
    """Episodes of instances named ``broken-*`` fail every time, as an engine bug would."""

    async def run(self, state: OrchestrationRuntimeState) -> ReplayOutcome:
        if (state.instance_id or "").startswith("broken-"):
            raise RuntimeError("the engine cannot run this instance")
        return await super().run(state)


class CrashingActivities(SdkActivityRunner):
    """The activity ``hello`` with input ``crash`` never completes: its worker fails every time."""

    async def run(self, name: str, input_json: str | None, instance_id: str, **_: object) -> str | None:
        if name == "hello" and input_json and "crash" in input_json:
            raise RuntimeError("the worker died running it")
        return await super().run(name, input_json, instance_id)


@dataclass
class Engine:
    service: AzureStorageOrchestrationService
    client: TaskHubClient


@pytest.fixture
async def engine(connection_string: str, hub_name: str) -> AsyncIterator[Engine]:
    settings = AzureStorageSettings(
        hub_name=hub_name,
        connection_string=connection_string,
        max_queue_polling_interval_s=0.5,
        poison_message_dequeue_count=THRESHOLD,
        stale_message_max_dequeues=1,
    )
    service = AzureStorageOrchestrationService(settings)
    executor = ThreadPoolExecutor(2)
    orchestrations, activities = BrokenEngine(REGISTRY, executor), CrashingActivities(REGISTRY)
    async with running_worker(service, executor, orchestrations, activities):
        yield Engine(service, TaskHubClient(service))


async def _wait_for_poison(service: AzureStorageOrchestrationService, instance_id: str | None) -> list[dict]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 40
    while loop.time() < deadline:
        rows = await service.poison.list(instance_id)
        if rows:
            return rows
        await asyncio.sleep(0.2)
    raise AssertionError("nothing reached the poison table")


async def test_an_instance_whose_episodes_always_fail_is_failed_with_the_reason(engine: Engine) -> None:
    instance_id = await engine.client.start("chain", _sdk_input(["x"]), "broken-1")
    state = await engine.client.wait_for_completion(instance_id, 40)
    assert state.status == OrchestrationStatus.Failed
    assert "poison table" in (state.output or "")
    assert "the engine cannot run this instance" in (state.output or "")
    rows = await _wait_for_poison(engine.service, instance_id)
    assert rows[0]["DequeueCount"] > THRESHOLD
    assert "ExecutionStarted" in rows[0]["Body"] or '"EventType":0' in rows[0]["Body"].replace(" ", "")


async def test_an_activity_that_never_completes_fails_its_task(engine: Engine) -> None:
    instance_id = await engine.client.start("chain", _sdk_input(["fine", "crash"]), "crashy-1")
    state = await engine.client.wait_for_completion(instance_id, 40)
    assert state.status == OrchestrationStatus.Failed
    assert "never completed" in (state.output or "")
    rows = await _wait_for_poison(engine.service, instance_id)
    assert rows[0]["Queue"].endswith("-workitems")


async def test_an_unreadable_message_is_moved_aside(engine: Engine) -> None:
    queue = engine.service.control_queues[0]
    await queue.client.send_message("this is not a task message")
    rows = await _wait_for_poison(engine.service, None)
    assert rows[0]["Body"] == "this is not a task message"
    assert "not a task message" in rows[0]["Reason"]
    instance_id = await engine.client.start("chain", _sdk_input(["a"]))  # the hub keeps working
    state = await engine.client.wait_for_completion(instance_id, 20)
    assert state.status == OrchestrationStatus.Completed
    assert json.loads(state.output or "") == ["Hello a"]


@dataclass
class SlowRun:
    """A chain whose one activity runs ``seconds``, on a worker with a short visibility timeout."""

    service: AzureStorageOrchestrationService
    runs: list[str]


@contextlib.asynccontextmanager
async def slow_activity_worker(
    connection_string: str, hub_name: str, seconds: float, visibility_s: float
) -> AsyncIterator[SlowRun]:
    runs: list[str] = []

    class SlowActivities(SdkActivityRunner):
        async def run(self, name: str, input_json: str | None, instance_id: str, **_: object) -> str | None:
            runs.append(instance_id)
            await asyncio.sleep(seconds)
            return await super().run(name, input_json, instance_id)

    settings = AzureStorageSettings(
        hub_name=hub_name,
        connection_string=connection_string,
        max_queue_polling_interval_s=0.5,
        work_item_queue_visibility_timeout_s=visibility_s,
    )
    service = AzureStorageOrchestrationService(settings)
    executor = ThreadPoolExecutor(2)
    async with running_worker(
        service, executor, SdkOrchestrationRunner(REGISTRY, executor), SlowActivities(REGISTRY)
    ):
        yield SlowRun(service, runs)


async def _run_chain(service: AzureStorageOrchestrationService) -> tuple[str, OrchestrationStatus]:
    client = TaskHubClient(service)
    instance_id = await client.start("chain", _sdk_input(["slow"]))
    return instance_id, (await client.wait_for_completion(instance_id, 30)).status


async def test_a_long_activity_is_not_run_twice_while_it_runs(connection_string: str, hub_name: str) -> None:
    """Its message stays invisible while it runs, though it runs far longer than the visibility timeout."""
    # renewed every 1.7 s: a machine that stalls for 3 s still keeps the message hidden
    async with slow_activity_worker(connection_string, hub_name, 11, 5) as slow:
        instance_id, status = await _run_chain(slow.service)
    assert status == OrchestrationStatus.Completed
    assert slow.runs == [instance_id]


async def _wait_for_status(engine: Engine, instance_id: str, status: OrchestrationStatus) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while (state := await engine.client.get_state(instance_id)) is None or state.status != status:
        assert loop.time() < deadline, f"'{instance_id}' never became {status.name}"
        await asyncio.sleep(0.1)


async def _queue_drained(engine: Engine, instance_id: str, timeout_s: float = 30) -> None:
    queue = engine.service.control_queue_for(instance_id).client
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (await queue.get_queue_properties()).approximate_message_count:
        assert loop.time() < deadline, "the message was never dropped"
        await asyncio.sleep(0.2)


async def test_a_message_for_an_instance_that_does_not_exist_waits_then_is_dropped(engine: Engine) -> None:
    ghost = f"ghost-{uuid.uuid4().hex}"
    completed = event(EventType.TaskCompleted, -1, TaskScheduledId=0, Result='"boo"')
    await engine.service.send_message(TaskMessage(completed, ghost, None))
    await _queue_drained(engine, ghost)
    assert await engine.client.get_state(ghost) is None


async def test_a_completion_for_a_task_never_scheduled_is_dropped_and_the_instance_goes_on(
    engine: Engine,
) -> None:
    instance_id = await engine.client.start("waiter", None)
    await _wait_for_status(engine, instance_id, OrchestrationStatus.Running)
    stray = event(EventType.TaskCompleted, -1, TaskScheduledId=42, Result='"stray"')
    await engine.service.send_message(TaskMessage(stray, instance_id, None))
    await _queue_drained(engine, instance_id)
    await engine.client.raise_event(instance_id, "Go", json.dumps("yes"))
    state = await engine.client.wait_for_completion(instance_id, 20)
    assert state.status == OrchestrationStatus.Completed
    assert json.loads(state.output or "") == {"got": "yes"}
    history = await engine.client.get_history(instance_id)
    assert not any(e.get("TaskScheduledId") == 42 for e in history)


async def test_an_activity_message_that_comes_back_while_it_runs_is_not_run_again(
    connection_string: str, hub_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A stalled machine renews too late: the message is delivered again to the worker running it,
    which keeps running it once and deletes it with the newest pop receipt when it is done."""
    async with slow_activity_worker(connection_string, hub_name, 5, 2) as slow:
        queue = slow.service.activity_reader.queue
        renew = queue.renew
        stalled = 0

        async def late_renewal(message: object) -> None:  # the first renewals never reach storage
            nonlocal stalled
            if stalled < 4:
                stalled += 1
                return
            await renew(message)  # type: ignore[arg-type]

        queue.renew = late_renewal  # type: ignore[method-assign]
        instance_id, status = await _run_chain(slow.service)
        await asyncio.sleep(3)  # a message left behind would be visible again by now
        left = await queue.client.peek_messages(max_messages=32)
    assert status == OrchestrationStatus.Completed
    assert slow.runs == [instance_id]
    assert "became visible while it ran here" in caplog.text
    assert left == []  # deleted with the pop receipt of its last delivery
