"""The host-side replay engine: task ids, history matching, completions, buffered events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from durable_ext.core.divergence import DivergenceKind
from durable_ext.core.history import EventType, HistoryEvent, OrchestrationStatus, execution_started
from durable_ext.core.replay import ReplayContext, replay
from durable_ext.core.state import OrchestrationRuntimeState
from durable_ext.core.tasks import Program, ReplayTask, when_all, when_any
from durable_ext.errors import NonDeterminismError

T0 = datetime(2024, 1, 1, tzinfo=UTC)
FIRE_AT = T0 + timedelta(minutes=5)


def _ev(event_type: EventType, event_id: int = -1, at: datetime = T0, **props: Any) -> HistoryEvent:
    return HistoryEvent(event_type, event_id, at, False, props)


def _state(*events: HistoryEvent, new: list[HistoryEvent] | None = None) -> OrchestrationRuntimeState:
    started = execution_started(
        instance_id="inst", execution_id="exec1", name="orch", input_json=None, timestamp=T0
    )
    past = [_ev(EventType.OrchestratorStarted), started, *events]
    return OrchestrationRuntimeState(past_events=past, new_events=list(new or []))


def _scheduled(task_id: int, name: str) -> HistoryEvent:
    return _ev(EventType.TaskScheduled, task_id, Name=name, Version="", Input="[]")


def _completed(task_id: int, result: str) -> HistoryEvent:
    return _ev(EventType.TaskCompleted, TaskScheduledId=task_id, Result=result)


def chain(names: list[str]) -> Any:
    """A program calling activities one after another, completing with their results joined."""

    def program(ctx: ReplayContext) -> Program:
        results = []
        for name in names:
            done = yield ctx.schedule_activity(name, '["x"]')
            results.append(done.result)
        ctx.complete(",".join(results))

    return program


def test_ids_are_assigned_in_scheduling_order() -> None:
    def program(ctx: ReplayContext) -> Program:
        a = ctx.schedule_activity("A", '["1"]')
        t = ctx.create_timer(FIRE_AT)
        s = ctx.create_sub_orchestration("Child", None, '"in"')
        b = ctx.schedule_activity("B", None)
        yield when_all([a, t, s, b])

    outcome = replay(_state(), program)
    assert [c.id for c in outcome.new_commands] == [0, 1, 2, 3]
    kinds = [c.event.event_type for c in outcome.new_commands]
    assert kinds == [
        EventType.TaskScheduled,
        EventType.TimerCreated,
        EventType.SubOrchestrationInstanceCreated,
        EventType.TaskScheduled,
    ]
    a, t, s, b = (c.event for c in outcome.new_commands)
    assert (a.name, a.input) == ("A", '["1"]')
    assert t.get("FireAt") == FIRE_AT
    assert s.name == "Child"
    assert s.get("InstanceId") == "exec1:2"  # DTFx default child id: "{executionId}:{seqId}"
    assert s.input == '"in"'
    assert b.name == "B"
    assert outcome.completion is None


def test_wait_for_event_takes_no_id() -> None:
    def program(ctx: ReplayContext) -> Program:
        e = ctx.wait_for_event("Go")
        a = ctx.schedule_activity("A", None)
        yield when_any([e, a])

    outcome = replay(_state(), program)
    assert [(c.id, c.event.name) for c in outcome.new_commands] == [(0, "A")]


def test_a_different_name_in_history_is_non_deterministic() -> None:
    state = _state(_scheduled(0, "OtherActivity"))
    with pytest.raises(NonDeterminismError) as info:
        replay(state, chain(["Hello"]))
    message = str(info.value)
    assert "OtherActivity" in message
    assert "Hello" in message
    assert info.value.divergence.kind == DivergenceKind.DIFFERENT_TASK


def test_a_different_kind_in_history_is_non_deterministic() -> None:
    state = _state(_ev(EventType.TimerCreated, 0, FireAt=FIRE_AT))
    with pytest.raises(NonDeterminismError) as info:
        replay(state, chain(["Hello"]))
    assert info.value.divergence.kind == DivergenceKind.DIFFERENT_TASK
    assert info.value.divergence.event_index == 2


def test_history_task_the_program_never_scheduled_is_non_deterministic() -> None:
    state = _state(_scheduled(0, "Hello"), _scheduled(1, "Extra"))
    with pytest.raises(NonDeterminismError, match="Extra") as info:
        replay(state, chain(["Hello"]))
    assert info.value.divergence.kind == DivergenceKind.MISSING_TASK


def test_activity_names_match_case_insensitively() -> None:
    outcome = replay(_state(_scheduled(0, "HELLO")), chain(["hello"]))
    assert outcome.new_commands == []


def test_completion_unblocks_the_program_and_schedules_the_next_task() -> None:
    state = _state(_scheduled(0, "A"), new=[_ev(EventType.OrchestratorStarted), _completed(0, '"ra"')])
    outcome = replay(state, chain(["A", "B", "C"]))
    assert [(c.id, c.event.name) for c in outcome.new_commands] == [(1, "B")]
    assert outcome.completion is None


def test_full_history_completes_the_program() -> None:
    state = _state(
        _scheduled(0, "A"),
        _completed(0, "ra"),
        _scheduled(1, "B"),
        _completed(1, "rb"),
    )
    outcome = replay(state, chain(["A", "B"]))
    assert outcome.new_commands == []
    assert outcome.completion is not None
    assert outcome.completion.status == OrchestrationStatus.Completed
    assert outcome.completion.result == "ra,rb"


def test_duplicate_completion_is_ignored() -> None:
    state = _state(
        _scheduled(0, "A"),
        _completed(0, "first"),
        _completed(0, "second"),
        _scheduled(1, "B"),
        _completed(1, "rb"),
    )
    outcome = replay(state, chain(["A", "B"]))
    assert outcome.completion is not None
    assert outcome.completion.result == "first,rb"


def test_completion_for_an_unknown_task_is_ignored() -> None:
    state = _state(_scheduled(0, "A"), _completed(7, "stray"))
    outcome = replay(state, chain(["A"]))
    assert outcome.completion is None
    assert outcome.new_commands == []


def test_failure_fails_the_task_and_the_program_sees_it() -> None:
    seen: list[ReplayTask] = []

    def program(ctx: ReplayContext) -> Program:
        done = yield ctx.schedule_activity("A", None)
        seen.append(done)
        if done.failure is not None:
            ctx.fail(done.failure.reason, done.failure.details)

    state = _state(
        _scheduled(0, "A"), _ev(EventType.TaskFailed, TaskScheduledId=0, Reason="bad", Details="d")
    )
    outcome = replay(state, program)
    assert seen[0].failure is not None
    assert (seen[0].failure.reason, seen[0].failure.details) == ("bad", "d")
    assert outcome.completion is not None
    assert outcome.completion.status == OrchestrationStatus.Failed
    assert (outcome.completion.result, outcome.completion.details) == ("bad", "d")


def test_timer_fired_completes_the_timer() -> None:
    def program(ctx: ReplayContext) -> Program:
        yield ctx.create_timer(FIRE_AT)
        ctx.complete('"woke"')

    pending = replay(_state(_ev(EventType.TimerCreated, 0, FireAt=FIRE_AT)), program)
    assert pending.completion is None
    fired = _ev(EventType.TimerFired, TimerId=0, FireAt=FIRE_AT)
    done = replay(_state(_ev(EventType.TimerCreated, 0, FireAt=FIRE_AT), fired), program)
    assert done.completion is not None
    assert done.completion.result == '"woke"'


def test_event_raised_before_the_wait_is_buffered() -> None:
    def program(ctx: ReplayContext) -> Program:
        yield ctx.schedule_activity("A", None)
        got = yield ctx.wait_for_event("Approval")
        ctx.complete(got.result)

    state = _state(
        _scheduled(0, "A"),
        _ev(EventType.EventRaised, Name="approval", Input='{"ok":true}'),  # before anyone waits
        _completed(0, "null"),
    )
    outcome = replay(state, program)
    assert outcome.completion is not None
    assert outcome.completion.result == '{"ok":true}'


def test_events_are_delivered_in_order_one_per_wait() -> None:
    def program(ctx: ReplayContext) -> Program:
        first = yield ctx.wait_for_event("E")
        second = yield ctx.wait_for_event("E")
        ctx.complete(f"{first.result}|{second.result}")

    one = replay(_state(_ev(EventType.EventRaised, Name="E", Input="1")), program)
    assert one.completion is None
    both = replay(
        _state(
            _ev(EventType.EventRaised, Name="E", Input="1"), _ev(EventType.EventRaised, Name="E", Input="2")
        ),
        program,
    )
    assert both.completion is not None
    assert both.completion.result == "1|2"


def test_when_all_waits_for_every_child() -> None:
    def program(ctx: ReplayContext) -> Program:
        done = yield when_all([ctx.schedule_activity(f"W{i}", None) for i in range(3)])
        ctx.complete("+".join(done.result))

    history = [_scheduled(i, f"W{i}") for i in range(3)]
    partial = replay(_state(*history, _completed(2, "c"), _completed(0, "a")), program)
    assert partial.completion is None
    assert partial.new_commands == []
    full = replay(_state(*history, _completed(2, "c"), _completed(0, "a"), _completed(1, "b")), program)
    assert full.completion is not None
    assert full.completion.result == "a+b+c"  # results in list order, not completion order


def test_when_all_fails_only_after_all_children_finish() -> None:
    def program(ctx: ReplayContext) -> Program:
        done = yield when_all([ctx.schedule_activity("A", None), ctx.schedule_activity("B", None)])
        if done.failure is not None:
            ctx.fail(done.failure.reason)
        else:
            ctx.complete("ok")

    failed_a = _ev(EventType.TaskFailed, TaskScheduledId=0, Reason="A broke")
    waiting = replay(_state(_scheduled(0, "A"), _scheduled(1, "B"), failed_a), program)
    assert waiting.completion is None
    done = replay(_state(_scheduled(0, "A"), _scheduled(1, "B"), failed_a, _completed(1, "1")), program)
    assert done.completion is not None
    assert done.completion.status == OrchestrationStatus.Failed
    assert done.completion.result == "A broke"


def test_when_any_completes_with_the_first_finished_task() -> None:
    def program(ctx: ReplayContext) -> Program:
        a = ctx.schedule_activity("A", None)
        timer = ctx.create_timer(FIRE_AT)
        winner = yield when_any([a, timer])
        ctx.complete("activity" if winner.result is a else "timer")

    history = [_scheduled(0, "A"), _ev(EventType.TimerCreated, 1, FireAt=FIRE_AT)]
    by_timer = replay(_state(*history, _ev(EventType.TimerFired, TimerId=1), _completed(0, "x")), program)
    assert by_timer.completion is not None
    assert by_timer.completion.result == "timer"
    by_activity = replay(_state(*history, _completed(0, "x")), program)
    assert by_activity.completion is not None
    assert by_activity.completion.result == "activity"


def test_unmatched_commands_are_returned_in_id_order() -> None:
    def program(ctx: ReplayContext) -> Program:
        tasks = [ctx.schedule_activity(f"W{i}", None) for i in range(5)]
        yield when_all(tasks)

    # ids 1 and 3 are already in history; the rest are new, returned sorted by id
    outcome = replay(_state(_scheduled(3, "W3"), _scheduled(1, "W1")), program)
    assert [c.id for c in outcome.new_commands] == [0, 2, 4]
    assert [c.event.name for c in outcome.new_commands] == ["W0", "W2", "W4"]


def test_send_event_takes_an_id_and_needs_no_completion() -> None:
    def program(ctx: ReplayContext) -> Program:
        ctx.send_event("other", "Ping", '"hi"')
        yield ctx.schedule_activity("A", None)

    outcome = replay(_state(), program)
    assert [(c.id, c.event.event_type) for c in outcome.new_commands] == [
        (0, EventType.EventSent),
        (1, EventType.TaskScheduled),
    ]
    assert outcome.new_commands[0].event.get("InstanceId") == "other"


def test_current_time_follows_orchestrator_started_events() -> None:
    seen: list[datetime] = []

    def program(ctx: ReplayContext) -> Program:
        seen.append(ctx.current_utc_datetime)
        yield ctx.schedule_activity("A", None)
        seen.append(ctx.current_utc_datetime)

    later = T0 + timedelta(seconds=30)
    state = _state(
        _scheduled(0, "A"),
        _ev(EventType.OrchestratorCompleted),
        new=[_ev(EventType.OrchestratorStarted, at=later), _completed(0, "1")],
    )
    replay(state, program)
    assert seen == [T0, later]


def test_first_completion_wins() -> None:
    def program(ctx: ReplayContext) -> Program:
        ctx.complete('"one"')
        ctx.fail("ignored")
        return
        yield

    outcome = replay(_state(), program)
    assert outcome.completion is not None
    assert outcome.completion.status == OrchestrationStatus.Completed
    assert outcome.completion.result == '"one"'


def test_continue_as_new_completion() -> None:
    def program(ctx: ReplayContext) -> Program:
        ctx.continue_as_new("42")
        return
        yield

    outcome = replay(_state(), program)
    assert outcome.completion is not None
    assert outcome.completion.status == OrchestrationStatus.ContinuedAsNew
    assert outcome.completion.continue_input == "42"
