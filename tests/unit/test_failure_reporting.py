"""What orchestrator and entity failures say, run through the runners and the real SDK (no I/O)."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.durable_functions as df
import pytest

from durable_ext.core.entities import RequestMessage, SchedulerState
from durable_ext.core.episode import finish_episode
from durable_ext.core.history import EventType, HistoryEvent, OrchestrationStatus, event, execution_started
from durable_ext.core.replay import ReplayOutcome
from durable_ext.core.state import OrchestrationRuntimeState
from durable_ext.extension.entity_runner import SdkEntityRunner
from durable_ext.extension.failures import describe, input_hint, user_exc_info
from durable_ext.extension.functions import FunctionRegistry
from durable_ext.extension.runners import SdkOrchestrationRunner

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def count_words(context: df.DurableOrchestrationContext) -> Any:
    counts: dict[str, int] = {}
    yield context.call_activity("split", "a b")
    return counts["key"]


@app.orchestration_trigger(context_name="context")
def reads_input(context: df.DurableOrchestrationContext) -> Any:
    return context.get_input()


@app.orchestration_trigger(context_name="context")
def type_error_elsewhere(context: df.DurableOrchestrationContext) -> Any:
    raise TypeError("not about the input")


@app.orchestration_trigger(context_name="context")
def fan_out_fails(context: df.DurableOrchestrationContext) -> Any:
    yield context.task_all([context.call_activity("explode", 1), context.call_activity("slow", 2)])


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    elif context.operation_name != "get":
        raise ValueError(f"counter has no operation '{context.operation_name}'")
    context.set_state(value)
    context.set_result(value)


@pytest.fixture(scope="module")
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def registry() -> FunctionRegistry:
    functions = FunctionRegistry()
    for function in app.get_functions():
        trigger = function.get_trigger().type
        if trigger == "orchestrationTrigger":
            functions.add_orchestrator(function.get_function_name(), function.get_user_function())
        elif trigger == "entityTrigger":
            functions.add_entity(function.get_function_name(), function.get_user_function())
    return functions


def _started(
    name: str, input_json: str | None = None, instance_id: str = "inst-1"
) -> OrchestrationRuntimeState:
    started = execution_started(
        instance_id=instance_id, execution_id="exec-1", name=name, input_json=input_json
    )
    return OrchestrationRuntimeState(new_events=[event(EventType.OrchestratorStarted), started])


def _next_episode(state: OrchestrationRuntimeState, outcome: ReplayOutcome, *arrived: HistoryEvent) -> None:
    finish_episode(state, outcome)
    state.past_events, state.new_events = state.events, [event(EventType.OrchestratorStarted), *arrived]


def _completed(task_id: int, result: Any) -> HistoryEvent:
    return event(EventType.TaskCompleted, -1, TaskScheduledId=task_id, Result=json.dumps(result))


def _failed(task_id: int) -> HistoryEvent:
    return event(
        EventType.TaskFailed,
        -1,
        TaskScheduledId=task_id,
        Reason="Activity function 'explode' failed:  ValueError: bad",
        Details='{"Message":"ValueError: bad"}',
    )


def _errors(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno == logging.ERROR]


# ---- orchestrators --------------------------------------------------------------------------------
async def test_an_orchestrator_exception_names_its_type_and_logs_the_app_frame_once(
    registry: FunctionRegistry, executor: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    runner = SdkOrchestrationRunner(registry, executor)
    state = _started("count_words")
    first = await runner.run(state)
    assert first.completion is None
    _next_episode(state, first, _completed(0, ["a", "b"]))
    final = await runner.run(state)
    assert final.completion is not None and final.completion.status == OrchestrationStatus.Failed
    assert final.completion.result == "Orchestrator function 'count_words' failed: KeyError: 'key'"
    (record,) = _errors(caplog, "durable_ext.lifecycle")
    assert record.getMessage() == "Orchestrator function 'count_words' (inst-1) raised KeyError: 'key'"
    assert record.exc_info is not None
    frames = traceback.extract_tb(record.exc_info[2])
    assert frames[0].name == "count_words" and frames[0].filename == __file__
    assert getattr(record, "instance_id", None) == "inst-1"


async def test_a_failure_waiting_for_other_tasks_is_logged_when_the_instance_fails(
    registry: FunctionRegistry, executor: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    runner = SdkOrchestrationRunner(registry, executor)
    state = _started("fan_out_fails")
    _next_episode(state, await runner.run(state), _failed(0))
    waiting = await runner.run(state)  # the SDK raised already; the host waits for 'slow' as Azure does
    assert waiting.completion is None
    assert _errors(caplog, "durable_ext.lifecycle") == []
    _next_episode(state, waiting, _completed(1, 2))
    final = await runner.run(state)
    assert final.completion is not None and final.completion.status == OrchestrationStatus.Failed
    assert final.completion.result == (
        "Orchestrator function 'fan_out_fails' failed: Activity function 'explode' failed:  ValueError: bad"
        ' \n {"Message":"ValueError: bad"}'
    )  # the SDK's own exception for a failed task is reported by its message alone
    assert len(_errors(caplog, "durable_ext.lifecycle")) == 1


@pytest.mark.parametrize(
    ("stored", "shown", "cli", "body"),
    [
        ("10", "the JSON value 10", "--input 10", 'the body "10".'),
        ('["eu"]', 'the JSON value ["eu"]', "--input '[\"eu\"]'", r'the body "[\"eu\"]".'),
        ('"eu"', 'the JSON string "eu"', "--input '\"eu\"'", r'the body "\"eu\"".'),
    ],
)
async def test_an_input_get_input_cannot_read_says_how_to_send_it(
    registry: FunctionRegistry, executor: ThreadPoolExecutor, stored: str, shown: str, cli: str, body: str
) -> None:
    runner = SdkOrchestrationRunner(registry, executor)
    outcome = await runner.run(_started("reads_input", stored, instance_id="raw-1"))
    assert outcome.completion is not None and outcome.completion.status == OrchestrationStatus.Failed
    message = outcome.completion.result or ""
    assert message.startswith("Orchestrator function 'reads_input' failed: ")
    assert f"The input of instance 'raw-1' is {shown}, but the Python SDK's get_input()" in message
    assert f"`durable-ext durable start-new --function-name reads_input {cli}`" in message
    assert "client.start_new(...)" in message and message.endswith(body)


async def test_inputs_the_sdk_reads_get_no_hint(
    registry: FunctionRegistry, executor: ThreadPoolExecutor
) -> None:
    runner = SdkOrchestrationRunner(registry, executor)
    for stored, expected in [('"10"', "10"), ('{"a":1}', '{"a":1}'), (None, None)]:
        outcome = await runner.run(_started("reads_input", stored))
        assert outcome.completion is not None and outcome.completion.status == OrchestrationStatus.Completed
        assert outcome.completion.result == expected
    failed = await runner.run(_started("type_error_elsewhere", "10"))
    assert failed.completion is not None
    assert failed.completion.result == (
        "Orchestrator function 'type_error_elsewhere' failed: TypeError: not about the input"
    )


def test_describe_and_the_hint_helpers() -> None:
    assert describe(KeyError("key")) == "KeyError: 'key'"
    assert describe(RuntimeError()) == "RuntimeError"
    assert describe(Exception("Activity function 'x' failed: boom")) == "Activity function 'x' failed: boom"
    assert input_hint(TypeError("elsewhere"), "i", "f", "10") == ""  # not raised by get_input()
    assert input_hint(TypeError("x"), "i", "f", None) == ""


def test_user_exc_info_keeps_everything_when_no_frame_is_the_apps() -> None:
    try:
        json.loads("{")
    except ValueError as exc:
        _, _, tb = user_exc_info(exc)
        assert tb is not None and traceback.extract_tb(tb)[0].name == (
            "test_user_exc_info_keeps_everything_when_no_frame_is_the_apps"
        )


# ---- entities -------------------------------------------------------------------------------------
def _entity_state(scheduler: SchedulerState | None, *requests: RequestMessage) -> OrchestrationRuntimeState:
    started = execution_started(
        instance_id="@counter@apples",
        execution_id="e1",
        name="counter",
        input_json=None if scheduler is None else scheduler.to_json(),
    )
    state = OrchestrationRuntimeState(past_events=[event(EventType.OrchestratorStarted), started])
    for request in requests:
        state.add(event(EventType.EventRaised, -1, Name="op", Input=request.to_json()))
    return state


def _signal(operation: str, value: Any, request_id: str) -> RequestMessage:
    return RequestMessage(operation, request_id, is_signal=True, input=json.dumps(json.dumps(value)))


def _carried(outcome: ReplayOutcome) -> SchedulerState:
    assert outcome.completion is not None
    return SchedulerState.from_json(outcome.completion.continue_input)


async def test_a_failed_entity_operation_is_logged_and_kept_in_the_entity_status(
    registry: FunctionRegistry, executor: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    runner = SdkEntityRunner(registry, executor, max_batch_size=10)
    requests = [_signal("add", 2, "r1"), _signal("multiply", 3, "r2"), _signal("add", "5", "r3")]
    outcome = await runner.run(_entity_state(None, *requests))
    carried = _carried(outcome)
    assert carried.exists and carried.state == "2"  # the failing operations raised before set_state
    errors = _errors(caplog, "durable_ext.entities")
    assert [r.getMessage() for r in errors] == [
        "Entity @counter@apples: operation 'multiply' failed: "
        "ValueError: counter has no operation 'multiply'",
        "Entity @counter@apples: operation 'add' failed: TypeError: unsupported operand type(s) for +=: "
        "'int' and 'str'",
    ]
    for record in errors:
        assert record.exc_info is not None
        assert traceback.extract_tb(record.exc_info[2])[0].name == "counter"
    batch_lines = [r.getMessage() for r in caplog.records if r.name == "durable_ext.lifecycle"]
    assert batch_lines == ["Entity @counter@apples ran 3 operations (2 failed)"]
    status = json.loads(outcome.custom_status or "")
    assert status["entityExists"] is True and status["queueSize"] == 0
    assert status["lastFailure"]["operation"] == "add"
    assert status["lastFailure"]["error"].startswith("TypeError: unsupported operand")

    caplog.clear()
    later = await runner.run(_entity_state(carried, _signal("add", 1, "r4")))
    assert _carried(later).state == "3"
    assert json.loads(later.custom_status or "")["lastFailure"] == status["lastFailure"]  # kept
    assert _errors(caplog, "durable_ext.entities") == []
    assert [r.getMessage() for r in caplog.records if r.name == "durable_ext.lifecycle"] == [
        "Entity @counter@apples ran 1 operation"
    ]


async def test_a_failed_call_still_answers_its_caller_with_the_error(
    registry: FunctionRegistry, executor: ThreadPoolExecutor
) -> None:
    runner = SdkEntityRunner(registry, executor, max_batch_size=10)
    call = RequestMessage("multiply", "c1", parent_instance_id="orch", parent_execution_id="x1")
    outcome = await runner.run(_entity_state(None, call))
    (response,) = outcome.new_commands
    assert response.event.name == "c1" and response.target_execution_id == "x1"
    body = json.loads(response.event.input or "")
    assert body["exceptionType"] == "Error" and "no operation 'multiply'" in body["result"]


async def test_a_long_input_is_not_repeated_in_the_hint(
    registry: FunctionRegistry, executor: ThreadPoolExecutor
) -> None:
    runner = SdkOrchestrationRunner(registry, executor)
    stored = json.dumps(list(range(1000)))
    outcome = await runner.run(_started("reads_input", stored, instance_id="raw-2"))
    assert outcome.completion is not None
    message = outcome.completion.result or ""
    assert "The input of instance 'raw-2' is a JSON array, but" in message
    assert "--input '<its JSON>'`" in message and message.endswith("or POST its JSON text as a JSON string.")
    assert "999" not in message
