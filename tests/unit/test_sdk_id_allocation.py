"""Task-id allocation against the real SDK, with a simulated host and a scripted world.

The host must give ids exactly as the SDK expects them (DurableTask's RetryInterceptor): attempt,
back-off timer, next attempt ..., and one more timer after the last failed attempt. Concurrent retries
interleave in the order their failures are processed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df

from durable_ext.core.episode import finish_episode
from durable_ext.core.history import EventType, HistoryEvent, OrchestrationStatus, event, execution_started
from durable_ext.core.replay import Completion, replay
from durable_ext.core.state import OrchestrationRuntimeState
from durable_ext.extension.protocol import OrchestratorState, build_context, parse_failure
from durable_ext.extension.runners import activity_argument
from durable_ext.extension.shim import shim_program

T0 = datetime(2024, 1, 1, tzinfo=UTC)
RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=3)

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def one_retry(context: df.DurableOrchestrationContext) -> Any:
    result = yield context.call_activity_with_retry("flaky", RETRY, "k")
    return result


@app.orchestration_trigger(context_name="context")
def two_retries(context: df.DurableOrchestrationContext) -> Any:
    results = yield context.task_all(
        [
            context.call_activity_with_retry("flaky", RETRY, "a"),
            context.call_activity_with_retry("flaky", RETRY, "b"),
        ]
    )
    return results


@app.orchestration_trigger(context_name="context")
def gives_up(context: df.DurableOrchestrationContext) -> Any:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=500, max_number_of_attempts=2)
    try:
        yield context.call_activity_with_retry("flaky", options, "never")
    except Exception as exc:
        return f"gave up: {str(exc)[:30]}"
    return "not reached"


@app.orchestration_trigger(context_name="context")
def any_then_next(context: df.DurableOrchestrationContext) -> Any:
    timer = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    work = context.call_activity("flaky", "w")
    winner = yield context.task_any([work, timer])
    if winner == work:
        timer.cancel()
    after = yield context.call_activity("flaky", "after")
    return [winner.result, after]


@app.orchestration_trigger(context_name="context")
def with_children(context: df.DurableOrchestrationContext) -> Any:
    named = yield context.call_sub_orchestrator("kid", 1, "kid-1")
    generated = yield context.call_sub_orchestrator("kid", 2)
    return [named, generated]


HANDLES = {f.get_function_name(): f.get_user_function() for f in app.get_functions()}
Decide = Callable[[str, int], bool]  # (activity input, attempt number) -> succeeds?


def at(when: datetime, e: HistoryEvent) -> HistoryEvent:
    e.timestamp = when
    return e


def run_world(
    name: str, succeeds: Decide, order: Callable[[list[HistoryEvent]], list[HistoryEvent]] = list
) -> tuple[Completion, list[HistoryEvent]]:
    """Play episodes until the orchestration completes; return its completion and full history."""
    past: list[HistoryEvent] = []
    now = T0
    started = execution_started(instance_id="i", execution_id="e", name=name, input_json=None, timestamp=now)
    new = [at(now, event(EventType.OrchestratorStarted)), started]
    attempts: dict[str, int] = {}
    for _ in range(30):
        state = OrchestrationRuntimeState(past_events=past, new_events=new)
        try:
            sdk_state = OrchestratorState.from_json(HANDLES[name](build_context(state)))
        except Exception as exc:
            _, attached = parse_failure(exc)
            assert attached is not None
            sdk_state = attached
        outcome = replay(state, shim_program(name, sdk_state))
        result = finish_episode(state, outcome)
        if outcome.completion is not None:
            return outcome.completion, state.events
        past = state.events
        now += timedelta(seconds=5)
        replies: list[HistoryEvent] = []
        for m in result.activity_messages:
            key = activity_argument(m.event.input)
            attempts[key] = attempts.get(key, 0) + 1
            if succeeds(key, attempts[key]):
                replies.append(
                    event(EventType.TaskCompleted, TaskScheduledId=m.event.event_id, Result='"ok"')
                )
            else:
                replies.append(
                    event(EventType.TaskFailed, TaskScheduledId=m.event.event_id, Reason="E", Details="d")
                )
        replies += [m.event for m in result.orchestrator_messages if m.event_type == EventType.TimerFired]
        for m in result.orchestrator_messages:
            if m.event_type == EventType.ExecutionStarted:
                task_id = int(m.event.get("ParentInstance")["TaskScheduleId"])
                child = json.dumps(f"child {m.instance_id}")
                replies.append(
                    event(EventType.SubOrchestrationInstanceCompleted, TaskScheduledId=task_id, Result=child)
                )
        new = [at(now, event(EventType.OrchestratorStarted)), *(at(now, r) for r in order(replies))]
    raise AssertionError("the orchestration did not finish")


def ids(history: list[HistoryEvent]) -> list[tuple[str, int]]:
    out = []
    for e in history:
        if e.event_type in (EventType.TaskScheduled, EventType.TimerCreated):
            out.append((e.event_type.name, e.event_id))
        elif e.event_type in (EventType.TaskCompleted, EventType.TaskFailed):
            out.append((e.event_type.name, int(e.get("TaskScheduledId"))))
        elif e.event_type == EventType.TimerFired:
            out.append((e.event_type.name, int(e.get("TimerId"))))
    return out


def test_two_failures_then_success() -> None:
    completion, history = run_world("one_retry", lambda key, n: n >= 3)
    assert completion.status == OrchestrationStatus.Completed and completion.result == '"ok"'
    assert ids(history) == [
        ("TaskScheduled", 0), ("TaskFailed", 0), ("TimerCreated", 1), ("TimerFired", 1),
        ("TaskScheduled", 2), ("TaskFailed", 2), ("TimerCreated", 3), ("TimerFired", 3),
        ("TaskScheduled", 4), ("TaskCompleted", 4),
    ]  # fmt: skip


def test_the_back_off_timer_is_due_one_interval_after_the_failure() -> None:
    _, history = run_world("one_retry", lambda key, n: n >= 2)
    failed_at = next(e.timestamp for e in history if e.event_type == EventType.TaskFailed)
    timer = next(e for e in history if e.event_type == EventType.TimerCreated)
    assert timer.get("FireAt") == failed_at + timedelta(seconds=1)


def test_after_the_last_attempt_one_more_timer_then_the_failure() -> None:
    completion, history = run_world("gives_up", lambda key, n: False)
    assert completion.status == OrchestrationStatus.Completed
    assert completion.result == '"gave up: E \\n d"'
    assert ids(history)[-3:] == [("TaskFailed", 2), ("TimerCreated", 3), ("TimerFired", 3)]


def test_concurrent_retries_interleave_in_failure_order() -> None:
    for reverse in (False, True):
        completion, history = run_world(
            "two_retries", lambda key, n: n >= 2, order=(lambda rs: list(reversed(rs))) if reverse else list
        )
        assert completion.status == OrchestrationStatus.Completed, completion
        assert completion.result == '["ok","ok"]'
        first_two = ids(history)[:2]
        assert first_two == [("TaskScheduled", 0), ("TaskScheduled", 1)]
        timers = [i for kind, i in ids(history) if kind == "TimerCreated"]
        assert timers == [2, 3]
        retried = [e for e in history if e.event_type == EventType.TaskScheduled and e.event_id >= 4]
        assert sorted(activity_argument(e.input) for e in retried) == ["a", "b"]


def test_task_any_then_a_later_activity_takes_the_next_id() -> None:
    completion, history = run_world("any_then_next", lambda key, n: True)
    assert completion.result == '["ok","ok"]'
    assert ids(history)[:3] == [("TaskScheduled", 0), ("TimerCreated", 1), ("TaskCompleted", 0)]
    assert ("TaskScheduled", 2) in ids(history)  # the cancelled timer kept id 1


def test_sub_orchestrations_with_and_without_ids() -> None:
    completion, history = run_world("with_children", lambda key, n: True)
    assert completion.result == '["child kid-1","child e:1"]'
    created = [e for e in history if e.event_type == EventType.SubOrchestrationInstanceCreated]
    assert [(e.event_id, e.get("InstanceId")) for e in created] == [(0, "kid-1"), (1, "e:1")]
