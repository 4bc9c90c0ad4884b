"""``durable_ext.testing.replay`` over histories the engine recorded on Azurite, and the engine's own
words for the same non-determinism at run time.

The app lives in a temporary folder; the engine runs its orchestrators (activities are registered by
the test) as the host would, and the replay API loads the same folder, or a changed copy, as the host
indexes an app.
"""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.core.client import TaskHubClient
from durable_ext.core.divergence import ADVICE, DivergenceKind
from durable_ext.core.history import EventType, OrchestrationStatus, event, execution_started
from durable_ext.core.history_json import RecordedHistory
from durable_ext.extension.functions import FunctionRegistry
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner
from durable_ext.host.settings import load_settings
from durable_ext.testing.replay import orchestrators, replay

from .workers import running_worker

TIMEOUT_S = 30.0

APP = '''
"""Orders, for the replay tests."""

from datetime import datetime, timedelta, timezone

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def flow(context):
    first = yield context.call_activity("reserve_stock", context.get_input())
    go = yield context.wait_for_external_event("Go")
    second = yield context.call_activity("charge_card", go)
    return [first, second]


@app.orchestration_trigger(context_name="context")
def wall_clock_timer(context):
    yield context.create_timer(datetime.now(timezone.utc) + timedelta(milliseconds=1500))
    return "woke"


@app.orchestration_trigger(context_name="context")
def approval(context):
    timer = context.create_timer(context.current_utc_datetime + timedelta(minutes=10))
    decision = context.wait_for_external_event("Approval")
    winner = yield context.task_any([decision, timer])
    if winner == decision:
        timer.cancel()
        return (yield context.call_activity("reserve_stock", decision.result))
    return "timed out"


@app.activity_trigger(input_name="value")
def reserve_stock(value):
    return value
'''

V1_FUNCTION_JSON = {
    "bindings": [{"name": "context", "type": "orchestrationTrigger", "direction": "in"}],
}
V1_FLOW = """
import azure.durable_functions as df


def orchestrator_function(context):
    first = yield context.call_activity("reserve_stock", context.get_input())
    go = yield context.wait_for_external_event("Go")
    second = yield context.call_activity("charge_card", go)
    return [first, second]


main = df.Orchestrator.create(orchestrator_function)
"""


def write_app(folder: Path, source: str = APP) -> Path:
    folder.mkdir(parents=True)
    (folder / "function_app.py").write_text(textwrap.dedent(source))
    (folder / "host.json").write_text('{"version": "2.0"}')
    return folder


def changed(folder: Path, old: str, new: str) -> Path:
    """A copy of the app with one change to its code."""
    source = APP.replace(old, new)
    assert source != APP
    return write_app(folder, source)


async def _echo(value: Any) -> Any:
    return value


@dataclass
class Engine:
    client: TaskHubClient
    registry: FunctionRegistry
    app: Path


@pytest.fixture
async def engine(connection_string: str, hub_name: str, tmp_path: Path) -> AsyncIterator[Engine]:
    app = write_app(tmp_path / "app")
    registry, _ = orchestrators(app, load_settings(app))
    registry.add_activity("reserve_stock", _echo)
    registry.add_activity("charge_card", _echo)
    settings = AzureStorageSettings(
        hub_name=hub_name, connection_string=connection_string, max_queue_polling_interval_s=0.5
    )
    service = AzureStorageOrchestrationService(settings)
    executor = ThreadPoolExecutor(4)
    orchestrations = SdkOrchestrationRunner(registry, executor)
    async with running_worker(service, executor, orchestrations, SdkActivityRunner(registry)):
        yield Engine(TaskHubClient(service), registry, app)


async def _until(engine: Engine, instance_id: str, event_type: EventType) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        if any(e.event_type == event_type for e in await engine.client.get_history(instance_id)):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"instance '{instance_id}' never recorded {event_type.name}")


async def _recorded(engine: Engine, instance_id: str) -> RecordedHistory:
    state = await engine.client.get_state(instance_id)
    assert state is not None
    return RecordedHistory.of(state, await engine.client.get_history(instance_id))


async def _finished_flow(engine: Engine, instance_id: str) -> RecordedHistory:
    await engine.client.start("flow", json.dumps(json.dumps("book")), instance_id)
    await _until(engine, instance_id, EventType.TaskCompleted)
    await engine.client.raise_event(instance_id, "Go", json.dumps("card-7"))
    state = await engine.client.wait_for_completion(instance_id, TIMEOUT_S)
    assert state.status == OrchestrationStatus.Completed, state.output
    return await _recorded(engine, instance_id)


async def test_recorded_histories_replay_on_the_same_code_and_not_on_changed_code(
    engine: Engine, tmp_path: Path
) -> None:
    finished = await _finished_flow(engine, "done-1")
    await engine.client.start("flow", json.dumps(json.dumps("pen")), "waiting-1")
    await _until(engine, "waiting-1", EventType.TaskCompleted)
    waiting = await _recorded(engine, "waiting-1")
    assert waiting.runtime_status == "Running"

    same = replay(engine.app, [finished, waiting])
    assert same.ok and [i.outcome for i in same.instances] == ["replays", "replays"]
    same.assert_replays()

    renamed = changed(tmp_path / "renamed", '"charge_card", go', '"charge_payment", go')
    result = replay(renamed, [finished.to_json(), waiting.to_json()])
    assert not result.ok
    assert result["waiting-1"].replays  # it has not reached the changed call yet
    found = result["done-1"].divergence
    assert found is not None and found.kind == DivergenceKind.DIFFERENT_TASK
    assert finished.events[found.event_index].name == "charge_card"
    assert found.describe() == (
        f"Event {found.event_index} of the history is TaskScheduled #1 'charge_card', but the orchestrator "
        f"now schedules TaskScheduled #1 'charge_payment' at that point. {ADVICE}"
    )
    with pytest.raises(AssertionError) as failed:
        result.assert_replays()
    assert str(failed.value) == (
        "1 of 2 recorded instance(s) do not replay on the current orchestrator code:\n"
        f"- done-1 (flow): {found.describe()}"
    )


async def test_an_approval_that_cancels_its_timer_replays(engine: Engine) -> None:
    await engine.client.start("approval", None, "approval-1")
    await _until(engine, "approval-1", EventType.TimerCreated)
    assert replay(engine.app, await _recorded(engine, "approval-1")).ok  # waiting for the decision
    await engine.client.raise_event("approval-1", "Approval", json.dumps("yes"))
    state = await engine.client.wait_for_completion("approval-1", TIMEOUT_S)
    assert state.status == OrchestrationStatus.Completed and state.output == '"yes"'
    replay(engine.app, await _recorded(engine, "approval-1")).assert_replays()


async def test_v1_folders_entities_and_missing_orchestrators(engine: Engine, tmp_path: Path) -> None:
    finished = await _finished_flow(engine, "done-2")
    v1 = tmp_path / "v1"
    (v1 / "flow").mkdir(parents=True)
    (v1 / "host.json").write_text('{"version": "2.0"}')
    (v1 / "flow" / "function.json").write_text(json.dumps(V1_FUNCTION_JSON))
    (v1 / "flow" / "__init__.py").write_text(V1_FLOW)
    assert replay(v1, finished).ok

    entity = RecordedHistory("@counter@k", "counter", "Running", finished.events)
    renamed = changed(tmp_path / "no_flow", "def flow(context):", "def flow_v2(context):")
    result = replay(renamed, [finished, entity])
    assert result["@counter@k"].outcome == "skipped"
    assert "entity" in result["@counter@k"].describe()
    missing = result["done-2"].divergence
    assert missing is not None and missing.kind == DivergenceKind.MISSING_ORCHESTRATOR
    assert missing.event_index == 1
    assert "the app now has no orchestrator function named 'flow'" in missing.describe()


async def test_the_engine_fails_an_instance_whose_code_changed_with_the_replay_tools_words(
    engine: Engine, tmp_path: Path
) -> None:
    await engine.client.start("flow", json.dumps(json.dumps("book")), "changed-1")
    await _until(engine, "changed-1", EventType.TaskCompleted)  # it now waits for Go
    deployed = changed(tmp_path / "deployed", '"reserve_stock", context', '"check_stock", context')
    new_code, _ = orchestrators(deployed, load_settings(deployed))
    handler = new_code.orchestrator("flow")
    assert handler is not None
    engine.registry.add_orchestrator("flow", handler)  # the next episode runs the new code
    await engine.client.raise_event("changed-1", "Go", json.dumps("card"))
    state = await engine.client.wait_for_completion("changed-1", TIMEOUT_S)
    assert state.status == OrchestrationStatus.Failed

    checked = replay(deployed, await _recorded(engine, "changed-1"))
    found = checked["changed-1"].divergence
    assert found is not None and found.kind == DivergenceKind.DIFFERENT_TASK
    assert found.event_index == 2
    assert "TaskScheduled #0 'reserve_stock'" in found.recorded and "'check_stock'" in found.now
    assert state.output == f"Orchestrator function 'flow' failed: {found.describe()}"


async def test_an_orchestrator_removed_under_a_running_instance_fails_it_at_once_saying_so(
    engine: Engine,
) -> None:
    """Not a divergence retried until its message is poison: the instance fails in its next episode
    with the words it fails with when it starts (the replay tool says the orchestrator is missing)."""
    await engine.client.start("flow", json.dumps(json.dumps("book")), "removed-1")
    await _until(engine, "removed-1", EventType.TaskCompleted)  # it now waits for Go
    del engine.registry.orchestrators["flow"]  # the next episode runs an app without it
    await engine.client.raise_event("removed-1", "Go", json.dumps("card"))
    state = await engine.client.wait_for_completion("removed-1", TIMEOUT_S)
    assert state.status == OrchestrationStatus.Failed
    assert state.output is not None
    assert state.output.startswith("The orchestrator function 'flow' doesn't exist"), state.output
    assert await engine.client.poison_messages("removed-1") == []


async def test_a_moved_timer_warns_at_run_time_and_diverges_in_the_replay_tool(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="durable_ext.lifecycle")
    await engine.client.start("wall_clock_timer", None, "clock-1")
    state = await engine.client.wait_for_completion("clock-1", TIMEOUT_S)
    assert state.status == OrchestrationStatus.Completed and state.output == '"woke"'

    checked = replay(engine.app, await _recorded(engine, "clock-1"))
    found = checked["clock-1"].divergence
    assert found is not None and found.kind == DivergenceKind.DIFFERENT_TIMER
    # the same words; only the time the code now asks for differs, as it reads the wall clock
    prefix = f"Orchestrator function 'wall_clock_timer' (clock-1): Event {found.event_index} of the history "
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]
    assert said and all(r.levelno == logging.WARNING for r in caplog.records if r.getMessage() in said)
    assert said[0].startswith(
        f"{prefix}is {found.recorded}, but the orchestrator now asks for TimerCreated #0"
    )
    assert said[0].endswith(ADVICE)


def test_replay_from_plain_code_through_the_sdk_without_storage(tmp_path: Path) -> None:
    """A history of one committed episode: the code scheduled reserve_stock, which the history lacks."""
    app = write_app(tmp_path / "app")
    started = execution_started(
        instance_id="hand-1", execution_id="e1", name="flow", input_json=json.dumps(json.dumps("x"))
    )
    first_wait = [event(EventType.OrchestratorStarted), started]
    assert replay(app, first_wait).ok  # the episode is not committed: what it schedules is new work
    committed = replay(app, [*first_wait, event(EventType.OrchestratorCompleted)])
    found = committed["hand-1"].divergence
    assert found is not None and found.kind == DivergenceKind.NEW_TASK
    assert "TaskScheduled #0 'reserve_stock'" in found.now
