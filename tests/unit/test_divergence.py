"""The divergence rules, on hand-built histories: what differs, where, and the words that say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from durable_ext.core.divergence import (
    ADVICE,
    TIMER_TOLERANCE,
    Divergence,
    DivergenceKind,
    label,
    missing_orchestrator,
)
from durable_ext.core.history import EventType, HistoryEvent, OrchestrationStatus, execution_started
from durable_ext.core.replay import ReplayContext, replay
from durable_ext.core.state import OrchestrationRuntimeState
from durable_ext.core.tasks import Program, ReplayTask, when_any
from durable_ext.errors import NonDeterminismError

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WAIT = timedelta(minutes=5)


def _ev(event_type: EventType, event_id: int = -1, **props: Any) -> HistoryEvent:
    return HistoryEvent(event_type, event_id, T0, True, props)


def _history(*episodes: list[HistoryEvent]) -> OrchestrationRuntimeState:
    """Committed episodes: each wrapped in OrchestratorStarted ... OrchestratorCompleted; the first one
    starts the execution."""
    started = execution_started(
        instance_id="order-1", execution_id="e1", name="process_order", input_json=None, timestamp=T0
    )
    events: list[HistoryEvent] = []
    for number, episode in enumerate(episodes):
        events.append(_ev(EventType.OrchestratorStarted))
        if number == 0:
            events.append(started)
        events += episode
        events.append(_ev(EventType.OrchestratorCompleted))
    return OrchestrationRuntimeState(past_events=events)


def _scheduled(task_id: int, name: str) -> HistoryEvent:
    return _ev(EventType.TaskScheduled, task_id, Name=name, Version="", Input="[]")


def _completed(task_id: int) -> HistoryEvent:
    return _ev(EventType.TaskCompleted, TaskScheduledId=task_id, Result='"ok"')


def _timer(task_id: int, fire_at: datetime) -> HistoryEvent:
    return _ev(EventType.TimerCreated, task_id, FireAt=fire_at)


def _fired(task_id: int, fire_at: datetime) -> HistoryEvent:
    return _ev(EventType.TimerFired, TimerId=task_id, FireAt=fire_at)


def _ended(status: OrchestrationStatus = OrchestrationStatus.Completed) -> HistoryEvent:
    return _ev(EventType.ExecutionCompleted, OrchestrationStatus=int(status), Result='"done"')


def order_flow(*names: str, wait: timedelta = WAIT, fail: bool = False) -> Any:
    """Activities one after another, a timer after the first; completes (or fails) at the end."""

    def program(ctx: ReplayContext) -> Program:
        for index, name in enumerate(names):
            yield ctx.schedule_activity(name, "[]")
            if index == 0:
                yield ctx.create_timer(T0 + wait)
        if fail:
            ctx.fail("ValueError: card declined")
        else:
            ctx.complete('"done"')

    return program


def finished_order(
    *, status: OrchestrationStatus = OrchestrationStatus.Completed
) -> OrchestrationRuntimeState:
    """reserve_stock, a timer, charge_card: the history of a finished instance (events 0..15)."""
    return _history(
        [_scheduled(0, "reserve_stock")],
        [_completed(0), _timer(1, T0 + WAIT)],
        [_fired(1, T0 + WAIT), _scheduled(2, "charge_card")],
        [_completed(2), _ended(status)],
    )


def divergence(state: OrchestrationRuntimeState, program: Any, *, strict: bool = True) -> Divergence:
    with pytest.raises(NonDeterminismError) as info:
        replay(state, program, strict=strict)
    assert str(info.value) == info.value.divergence.describe()
    return info.value.divergence


def test_the_same_code_replays_a_finished_history() -> None:
    outcome = replay(finished_order(), order_flow("reserve_stock", "charge_card"), strict=True)
    assert outcome.new_commands == [] and outcome.warnings == []
    assert outcome.completion is not None and outcome.completion.status == OrchestrationStatus.Completed


def test_a_different_activity_name_names_the_event_and_both_names() -> None:
    found = divergence(finished_order(), order_flow("reserve_stock", "reserve_stock_v2"))
    assert found.kind == DivergenceKind.DIFFERENT_TASK
    assert finished_order().events[found.event_index].name == "charge_card"
    assert found.describe() == (
        f"Event {found.event_index} of the history is TaskScheduled #2 'charge_card', but the "
        f"orchestrator now schedules TaskScheduled #2 'reserve_stock_v2' at that point. {ADVICE}"
    )


def test_a_different_name_fails_at_run_time_too() -> None:
    found = divergence(finished_order(), order_flow("reserve_stock", "other"), strict=False)
    assert found.kind == DivergenceKind.DIFFERENT_TASK


def test_a_different_kind_of_task_at_an_id() -> None:
    def program(ctx: ReplayContext) -> Program:
        yield ctx.schedule_activity("reserve_stock", "[]")
        yield ctx.schedule_activity("charge_card", "[]")  # the timer is gone: #1 is now an activity

    found = divergence(finished_order(), program, strict=False)
    assert found.kind == DivergenceKind.DIFFERENT_TASK
    assert found.event_index == 6
    assert found.recorded == f"TimerCreated #1 firing at {(T0 + WAIT).isoformat()[:19]}.000Z"
    assert "now schedules TaskScheduled #1 'charge_card'" in found.now


def test_a_removed_activity_is_a_missing_task_after_the_code_ended() -> None:
    found = divergence(finished_order(), order_flow("reserve_stock"), strict=False)
    assert found.kind == DivergenceKind.MISSING_TASK
    assert found.event_index == 10
    assert found.recorded == "TaskScheduled #2 'charge_card'"
    assert "now ends (Completed) without scheduling it" in found.now


def test_a_missing_task_while_the_code_still_waits() -> None:
    def program(ctx: ReplayContext) -> Program:
        yield ctx.schedule_activity("reserve_stock", "[]")
        yield ctx.wait_for_event("Approval")  # waits where the history created a timer

    found = divergence(finished_order(), program, strict=False)
    assert found.kind == DivergenceKind.MISSING_TASK
    assert "does not schedule it at that point" in found.now


def test_an_added_activity_at_the_end_of_a_finished_history_is_a_new_task() -> None:
    program = order_flow("reserve_stock", "charge_card", "send_receipt")
    found = divergence(finished_order(), program)
    assert found.kind == DivergenceKind.NEW_TASK
    assert finished_order().events[found.event_index].event_type == EventType.ExecutionCompleted
    assert found.recorded == "ExecutionCompleted (Completed)"
    assert found.now.endswith(
        "now schedules TaskScheduled #3 'send_receipt' instead of ending: a task the history does not have"
    )


def test_new_work_is_normal_at_run_time() -> None:
    program = order_flow("reserve_stock", "charge_card", "send_receipt")
    outcome = replay(finished_order(), program)
    assert [c.event.name for c in outcome.new_commands] == ["send_receipt"]


def test_a_task_scheduled_in_a_committed_episode_the_history_lacks_is_new() -> None:
    """A running history: the code now schedules two tasks in the first episode, the history has one."""
    running = _history([_scheduled(0, "reserve_stock")])

    def program(ctx: ReplayContext) -> Program:
        first = ctx.schedule_activity("reserve_stock", "[]")
        audit = ctx.schedule_activity("audit", "[]")
        yield first
        yield audit

    found = divergence(running, program)
    assert found.kind == DivergenceKind.NEW_TASK
    assert found.event_index == 3 and found.recorded == "OrchestratorCompleted"
    assert found.now == (
        "the orchestrator now schedules TaskScheduled #1 'audit' in that episode: a task the history does "
        "not have"
    )
    assert replay(running, order_flow("reserve_stock"), strict=True).new_commands == []


def test_a_task_the_program_schedules_an_episode_early_is_not_new() -> None:
    """The SDK marks a timer cancelled from the start when the code cancelled it later (an approval that
    beat its timeout): the program then schedules the next task one episode before the history has it."""

    def program(ctx: ReplayContext) -> Program:
        ctx.create_timer(T0 + WAIT)  # cancelled: done at once
        cancelled = ReplayTask()
        cancelled.complete(None)
        yield when_any([ctx.wait_for_event("Approval"), cancelled])
        yield ctx.schedule_activity("record_decision", "[]")
        ctx.complete('"done"')

    first = [_timer(0, T0 + WAIT)]
    second = [_ev(EventType.EventRaised, Name="Approval", Input="true"), _scheduled(1, "record_decision")]
    assert replay(_history(first, second), program, strict=True).completion is None
    finished = _history(first, second, [_completed(1), _ended()])
    done = replay(finished, program, strict=True).completion
    assert done is not None and done.status == OrchestrationStatus.Completed


def test_code_that_now_ends_where_a_running_history_goes_on() -> None:
    running = _history([_scheduled(0, "reserve_stock")], [_completed(0), _timer(1, T0 + WAIT)])

    def program(ctx: ReplayContext) -> Program:
        yield ctx.schedule_activity("reserve_stock", "[]")
        ctx.complete('"early"')

    found = divergence(running, program)
    assert found.kind == DivergenceKind.MISSING_TASK  # the timer it no longer creates comes first
    short = _history([_scheduled(0, "reserve_stock")], [_completed(0)])
    found = divergence(short, program)
    assert found.kind == DivergenceKind.DIFFERENT_COMPLETION and found.event_index == 6
    assert found.describe().startswith(
        "Event 6 of the history is OrchestratorCompleted, but the orchestrator now ends there as Completed, "
        "where the history goes on without ending."
    )


def test_no_new_task_is_expected_from_an_episode_in_which_the_code_did_not_run() -> None:
    """Suspended: the completion was only recorded; the code ran again once resumed."""
    suspended = _history(
        [_scheduled(0, "reserve_stock")],
        [_ev(EventType.ExecutionSuspended), _completed(0)],
    )
    assert replay(suspended, order_flow("reserve_stock", "charge_card"), strict=True).new_commands != []
    resumed = _history(
        [_scheduled(0, "reserve_stock")],
        [_ev(EventType.ExecutionSuspended), _completed(0)],
        [_ev(EventType.ExecutionResumed)],
    )
    found = divergence(resumed, order_flow("reserve_stock", "charge_card"))
    assert found.kind == DivergenceKind.NEW_TASK and found.event_index == 10


def test_a_terminated_history_is_checked_only_up_to_its_termination() -> None:
    terminated = _history(
        [_scheduled(0, "reserve_stock")],
        [
            _completed(0),
            _ev(EventType.ExecutionTerminated, Input="enough"),
            _ended(OrchestrationStatus.Terminated),
        ],
    )
    outcome = replay(terminated, order_flow("reserve_stock", "charge_card"), strict=True)
    assert outcome.completion is None


def test_a_moved_timer_is_a_divergence_when_checking_and_a_warning_at_run_time() -> None:
    program = order_flow("reserve_stock", "charge_card", wait=WAIT + timedelta(minutes=1))
    found = divergence(finished_order(), program)
    assert found.kind == DivergenceKind.DIFFERENT_TIMER
    assert found.event_index == 6
    assert found.describe().startswith(
        "Event 6 of the history is TimerCreated #1 firing at 2024-01-01T00:05:00.000Z, but the "
        "orchestrator now asks for TimerCreated #1 firing at 2024-01-01T00:06:00.000Z at that point."
    )
    outcome = replay(finished_order(), program)
    assert [w.kind for w in outcome.warnings] == [DivergenceKind.DIFFERENT_TIMER]
    assert outcome.warnings[0].describe() == found.describe()
    assert outcome.completion is not None


def test_timers_within_a_millisecond_are_the_same_timer() -> None:
    program = order_flow("reserve_stock", "charge_card", wait=WAIT + TIMER_TOLERANCE)
    assert replay(finished_order(), program, strict=True).warnings == []
    later = order_flow("reserve_stock", "charge_card", wait=WAIT + TIMER_TOLERANCE * 2)
    assert divergence(finished_order(), later).kind == DivergenceKind.DIFFERENT_TIMER


def test_a_different_ending_of_a_finished_history() -> None:
    failing = divergence(finished_order(), order_flow("reserve_stock", "charge_card", fail=True))
    assert failing.kind == DivergenceKind.DIFFERENT_COMPLETION
    assert failing.event_index == 14
    assert failing.recorded == "ExecutionCompleted (Completed)"
    assert failing.now == "the orchestrator now fails there: ValueError: card declined"
    failed_history = finished_order(status=OrchestrationStatus.Failed)
    completing = divergence(failed_history, order_flow("reserve_stock", "charge_card"))
    assert completing.now == "the orchestrator now ends there as Completed"
    same = replay(failed_history, order_flow("reserve_stock", "charge_card", fail=True), strict=True)
    assert same.completion is not None and same.completion.status == OrchestrationStatus.Failed


def test_code_that_keeps_waiting_where_the_history_ended() -> None:
    def program(ctx: ReplayContext) -> Program:
        yield ctx.schedule_activity("reserve_stock", "[]")
        yield ctx.create_timer(T0 + WAIT)
        yield ctx.schedule_activity("charge_card", "[]")
        yield ctx.wait_for_event("Shipped")

    found = divergence(finished_order(), program)
    assert found.kind == DivergenceKind.DIFFERENT_COMPLETION
    assert "keeps waiting there" in found.now


def test_continue_as_new_where_the_history_completed() -> None:
    def program(ctx: ReplayContext) -> Program:
        yield ctx.schedule_activity("reserve_stock", "[]")
        yield ctx.create_timer(T0 + WAIT)
        yield ctx.schedule_activity("charge_card", "[]")
        ctx.continue_as_new("{}")

    found = divergence(finished_order(), program)
    assert found.now == "the orchestrator now continues as new there"


def test_a_missing_orchestrator_says_so() -> None:
    state = finished_order()
    started = state.events[1]
    found = missing_orchestrator(1, started, "it is disabled")
    assert found.kind == DivergenceKind.MISSING_ORCHESTRATOR
    assert found.describe().startswith(
        "Event 1 of the history is ExecutionStarted 'process_order', but the app now has no orchestrator "
        "function named 'process_order' to run it (it is disabled)."
    )


def test_labels_of_sub_orchestrations_events_and_entity_operations() -> None:
    child = _ev(EventType.SubOrchestrationInstanceCreated, 3, Name="ship", InstanceId="c1")
    assert label(child) == "SubOrchestrationInstanceCreated #3 'ship'"
    sent = _ev(EventType.EventSent, 4, Name="Ping", InstanceId="other")
    assert label(sent) == "EventSent #4 'Ping' to instance 'other'"
    operation = _ev(EventType.EventSent, 5, Name="op", InstanceId="@counter@k")
    assert label(operation) == "EventSent #5 (an operation on entity '@counter@k')"


def test_divergence_as_json() -> None:
    found = divergence(finished_order(), order_flow("reserve_stock", "other"))
    body = found.to_json()
    assert body["kind"] == "different-task" and body["eventIndex"] == found.event_index
    assert body["message"] == found.describe() and body["recorded"] == "TaskScheduled #2 'charge_card'"


def test_an_operation_on_another_entity_is_a_different_task() -> None:
    def calls(entity: str, operation: str) -> Any:
        def program(ctx: ReplayContext) -> Program:
            yield ctx.send_entity_request(entity, operation, None, signal=False)

        return program

    history = _history([_ev(EventType.EventSent, 0, Name="op", InstanceId="@counter@k", Input="{}")])
    assert replay(history, calls("@counter@k", "add"), strict=True).warnings == []
    assert replay(history, calls("@Counter@k", "get"), strict=True).warnings == []  # names: any case
    found = divergence(history, calls("@ledger@k", "add"), strict=False)
    assert found.kind == DivergenceKind.DIFFERENT_TASK
    assert found.describe().startswith(
        "Event 2 of the history is EventSent #0 (an operation on entity '@counter@k'), but the orchestrator "
        "now schedules EventSent #0 (an operation on entity '@ledger@k') at that point."
    )
