"""The out-of-proc protocol against the real azure-functions-durable SDK: context in, actions out.

Each test plays the host: build the context JSON from a runtime state, call the SDK's orchestrator
``handle``, parse what it returns (or raises), replay its actions through the shim, and append the
events a real host would record before the next episode.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from durable_ext.core.history import (
    EventType,
    HistoryEvent,
    OrchestrationStatus,
    event,
    execution_started,
)
from durable_ext.core.replay import ReplayOutcome, replay
from durable_ext.core.state import OrchestrationRuntimeState
from durable_ext.extension.protocol import OrchestratorState, build_context, parse_failure
from durable_ext.extension.runners import activity_argument
from durable_ext.extension.shim import shim_program

T0 = datetime(2024, 1, 1, 0, 0, 1, 123456, tzinfo=UTC)
Handle = Callable[[str], str]

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def hello_chain(context: df.DurableOrchestrationContext) -> Any:
    results = []
    for city in ["Tokyo", "Seattle", "London"]:
        results.append((yield context.call_activity("hello", city)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Any:
    n = context.get_input()
    parts = yield context.task_all([context.call_activity("square", i) for i in range(n)])
    return sum(parts)


@app.orchestration_trigger(context_name="context")
def uncaught_failure(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_activity("explode", None)
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def plain(context: df.DurableOrchestrationContext) -> Any:
    return {"plain": {"k": "v"}, "input": context.get_input()}


@app.orchestration_trigger(context_name="context")
def clock(context: df.DurableOrchestrationContext) -> Any:
    first = context.current_utc_datetime.isoformat()
    yield context.call_activity("hello", "x")
    second = context.current_utc_datetime.isoformat()
    return [first, second]


@app.orchestration_trigger(context_name="context")
def echo_input(context: df.DurableOrchestrationContext) -> Any:
    return {"got": context.get_input()}


@app.orchestration_trigger(context_name="context")
def raiser(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_activity("hello", "before")
    raise RuntimeError("orchestrator boom")


HANDLES: dict[str, Handle] = {
    f.get_function_name(): f.get_user_function()
    for f in app.get_functions()
    if f.get_trigger().type == "orchestrationTrigger"
}


def _activity(name: str, argument: Any) -> Any:
    if name == "hello":
        return f"Hello {argument}"
    if name == "square":
        return argument * argument
    raise AssertionError(f"unexpected activity {name}")


class Host:
    """A minimal in-memory host: one orchestration instance, episodes run one by one."""

    def __init__(self, name: str, input_json: str | None = None, start: datetime = T0) -> None:
        self.name = name
        self.handle = HANDLES[name]
        self.clock = start
        started = execution_started(
            instance_id="inst-1", execution_id="exec-1", name=name, input_json=input_json, timestamp=start
        )
        self.state = OrchestrationRuntimeState(
            new_events=[self._at(event(EventType.OrchestratorStarted)), started]
        )
        self.sdk_state: OrchestratorState | None = None

    def _at(self, e: HistoryEvent) -> HistoryEvent:
        e.timestamp = self.clock
        return e

    def run_episode(self) -> ReplayOutcome:
        try:
            returned = self.handle(build_context(self.state))
            self.sdk_state = OrchestratorState.from_json(returned)
        except Exception as exc:
            _, attached = parse_failure(exc)
            assert attached is not None, f"the SDK raised without attaching its state: {exc!r}"
            self.sdk_state = attached
        return replay(self.state, shim_program(self.name, self.sdk_state))

    def commit(self, outcome: ReplayOutcome, responses: list[HistoryEvent]) -> None:
        """Record the scheduled work and start the next episode with ``responses``."""
        recorded = [c.event.copy() for c in outcome.new_commands]
        past = self.state.events + recorded + [self._at(event(EventType.OrchestratorCompleted))]
        self.clock += timedelta(seconds=10)
        new = [self._at(event(EventType.OrchestratorStarted)), *responses]
        self.state = OrchestrationRuntimeState(past_events=past, new_events=new)

    def run_activities(self, outcome: ReplayOutcome) -> list[HistoryEvent]:
        responses = []
        for command in outcome.new_commands:
            assert command.event.event_type == EventType.TaskScheduled
            result = _activity(command.event.name or "", activity_argument(command.event.input))
            responses.append(
                event(EventType.TaskCompleted, -1, TaskScheduledId=command.id, Result=json.dumps(result))
            )
        return responses


def test_orchestrator_handles_are_the_sdk_wrappers() -> None:
    assert set(HANDLES) >= {"hello_chain", "fan_out", "plain"}
    assert all(callable(h) for h in HANDLES.values())


def test_three_activity_chain_over_successive_episodes() -> None:
    host = Host("hello_chain")
    scheduled: list[tuple[int, str | None, str | None]] = []
    outcome = host.run_episode()
    for _ in range(3):
        assert outcome.completion is None
        assert len(outcome.new_commands) == 1
        command = outcome.new_commands[0]
        scheduled.append((command.id, command.event.name, command.event.input))
        host.commit(outcome, host.run_activities(outcome))
        outcome = host.run_episode()
    assert scheduled == [
        (0, "hello", json.dumps(['"Tokyo"'])),
        (1, "hello", json.dumps(['"Seattle"'])),
        (2, "hello", json.dumps(['"London"'])),
    ]
    assert outcome.new_commands == []
    assert outcome.completion is not None
    assert outcome.completion.status == OrchestrationStatus.Completed
    assert json.loads(outcome.completion.result or "") == ["Hello Tokyo", "Hello Seattle", "Hello London"]
    types = [int(e.event_type) for e in host.state.events]
    assert types == [12, 0, 4, 13, 12, 5, 4, 13, 12, 5, 4, 13, 12, 5]  # reference §4, before the last 13


def test_replaying_a_finished_episode_schedules_nothing_new() -> None:
    host = Host("hello_chain")
    outcome = host.run_episode()
    host.commit(outcome, [])  # no response yet: a spurious episode
    again = host.run_episode()
    assert again.new_commands == []
    assert again.completion is None


@pytest.mark.parametrize("n", [1, 4, 7])
def test_fan_out_schedules_every_activity_in_one_episode(n: int) -> None:
    host = Host("fan_out", input_json=json.dumps(json.dumps(n)))
    outcome = host.run_episode()
    assert [c.id for c in outcome.new_commands] == list(range(n))
    assert [c.event.name for c in outcome.new_commands] == ["square"] * n
    assert [activity_argument(c.event.input) for c in outcome.new_commands] == list(range(n))
    assert outcome.completion is None
    responses = host.run_activities(outcome)
    host.commit(outcome, list(reversed(responses)))  # completions in any order
    final = host.run_episode()
    assert final.new_commands == []
    assert final.completion is not None
    assert final.completion.status == OrchestrationStatus.Completed
    assert json.loads(final.completion.result or "") == sum(i * i for i in range(n))


def test_fan_out_partial_completion_waits() -> None:
    host = Host("fan_out", input_json=json.dumps(json.dumps(3)))
    outcome = host.run_episode()
    host.commit(outcome, host.run_activities(outcome)[:2])
    partial = host.run_episode()
    assert partial.completion is None
    assert partial.new_commands == []


def test_uncaught_activity_failure_fails_the_orchestration() -> None:
    host = Host("uncaught_failure")
    outcome = host.run_episode()
    assert [(c.id, c.event.name) for c in outcome.new_commands] == [(0, "explode")]
    failed = event(
        EventType.TaskFailed,
        -1,
        TaskScheduledId=0,
        Reason="Activity function 'explode' failed:  ValueError: bad",
        Details='{"Message":"ValueError: bad"}',
    )
    host.commit(outcome, [failed])
    final = host.run_episode()
    assert host.sdk_state is not None
    assert host.sdk_state.error is not None
    assert final.completion is not None
    assert final.completion.status == OrchestrationStatus.Failed
    result = final.completion.result or ""
    assert result.startswith("Orchestrator function 'uncaught_failure' failed:")
    assert "Activity function 'explode' failed:  ValueError: bad" in result
    assert '{"Message":"ValueError: bad"}' in result
    assert final.new_commands == []


def test_orchestrator_exception_fails_after_recording_its_actions() -> None:
    host = Host("raiser")
    outcome = host.run_episode()
    host.commit(outcome, host.run_activities(outcome))
    final = host.run_episode()
    assert final.completion is not None
    assert final.completion.status == OrchestrationStatus.Failed
    assert final.completion.result == "Orchestrator function 'raiser' failed: orchestrator boom"


def test_non_generator_orchestrator_completes_in_one_episode() -> None:
    host = Host("plain", input_json=json.dumps({"a": 1}))
    outcome = host.run_episode()
    assert outcome.new_commands == []
    assert outcome.completion is not None
    assert outcome.completion.status == OrchestrationStatus.Completed
    assert json.loads(outcome.completion.result or "") == {"plain": {"k": "v"}, "input": {"a": 1}}
    assert host.sdk_state is not None
    assert host.sdk_state.is_done
    assert host.sdk_state.actions == []


def test_parse_failure_extracts_the_attached_state() -> None:
    host = Host("raiser")
    outcome = host.run_episode()
    host.commit(outcome, host.run_activities(outcome))
    with pytest.raises(Exception) as info:
        host.handle(build_context(host.state))
    message, state = parse_failure(info.value)
    assert message == "orchestrator boom"
    assert state is not None
    assert state.is_done is False
    assert state.error == "orchestrator boom"
    assert state.schema_version == 2
    assert state.actions == [{"actionType": 0, "functionName": "hello", "input": '"before"'}]


def test_parse_failure_uses_the_last_label_and_tolerates_missing_state() -> None:
    label = "\n\n$OutOfProcData$:"
    text = f"a{label}not json{label}" + json.dumps({"isDone": False, "actions": [[]], "error": "e"})
    message, state = parse_failure(Exception(text))
    assert message == f"a{label}not json"
    assert state is not None
    assert state.error == "e"
    assert parse_failure(ValueError("plain failure")) == ("plain failure", None)
    message, state = parse_failure(Exception(f"bad{label}{{not json"))
    assert (message, state) == ("bad", None)


def test_current_utc_datetime_is_the_orchestrator_started_timestamp() -> None:
    host = Host("clock")
    outcome = host.run_episode()
    host.commit(outcome, host.run_activities(outcome))
    final = host.run_episode()
    assert final.completion is not None
    first, second = json.loads(final.completion.result or "")
    assert datetime.fromisoformat(first) == T0
    assert datetime.fromisoformat(second) == T0 + timedelta(seconds=10)


@pytest.mark.parametrize("value", [{"a": 1, "b": [1, 2]}, "Tokyo", [1, 2, 3], 5, None])
def test_get_input_with_the_sdk_clients_double_encoding(value: Any) -> None:
    host = Host("echo_input", input_json=json.dumps(json.dumps(value)))
    outcome = host.run_episode()
    assert outcome.completion is not None
    assert json.loads(outcome.completion.result or "") == {"got": value}


def test_get_input_with_a_raw_http_dict_body() -> None:
    value = {"a": 1, "nested": {"b": "c"}}
    host = Host("echo_input", input_json=json.dumps(value))
    outcome = host.run_episode()
    assert outcome.completion is not None
    assert json.loads(outcome.completion.result or "") == {"got": value}


def test_context_json_shape() -> None:
    host = Host("hello_chain", input_json=json.dumps(json.dumps("x")))
    context = json.loads(build_context(host.state))
    assert context["instanceId"] == "inst-1"
    assert context["parentInstanceId"] is None
    assert context["isReplaying"] is False
    assert context["upperSchemaVersion"] == 1
    assert context["upperSchemaVersionNew"] == 2
    assert context["input"] == '"x"'
    first, started = context["history"]
    assert first["EventType"] == 12
    assert first["Timestamp"] == "2024-01-01T00:00:01.1234560Z"
    assert started["EventType"] == 0
    assert started["Version"] == ""
    assert started["IsPlayed"] is False
    assert started["EventId"] == -1


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (json.dumps(['"Tokyo"']), "Tokyo"),
        (json.dumps(['{"a": 1}']), {"a": 1}),
        (json.dumps(["null"]), None),
        (json.dumps(["5"]), 5),
        (json.dumps(["[1, 2]"]), [1, 2]),
    ],
)
def test_activity_argument(stored: str, expected: Any) -> None:
    assert activity_argument(stored) == expected
