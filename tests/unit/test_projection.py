"""The memory provider's instance status: a projection of the history, merged as the Instances row is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from durable_ext.core.history import EventType, HistoryEvent, OrchestrationStatus, execution_started
from durable_ext.core.projection import episode_state, finished_state, pending_again, pending_state
from durable_ext.core.state import OrchestrationRuntimeState

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=5)
S = OrchestrationStatus


def _started(execution_id: str = "e1", generation: int = 0, **props: object) -> HistoryEvent:
    started = execution_started(
        instance_id="i1",
        execution_id=execution_id,
        name="Orch",
        input_json='"in"',
        version="v2",
        tags={"team": "a"},
        generation=generation,
        timestamp=T0,
    )
    started.props.update(props)
    return started


def _at(minutes: int, event_type: EventType, **props: object) -> HistoryEvent:
    return HistoryEvent(event_type, -1, T0 + timedelta(minutes=minutes), False, dict(props))


def _episode(*new: HistoryEvent, past: list[HistoryEvent] | None = None) -> OrchestrationRuntimeState:
    return OrchestrationRuntimeState(past_events=list(past or []), new_events=list(new))


def test_a_pending_state_is_what_the_client_writes() -> None:
    at = T0 + timedelta(days=1)
    state = pending_state(_started(ScheduledStartTime=at), "i1", NOW)
    assert (state.instance_id, state.name, state.status, state.execution_id) == (
        "i1",
        "Orch",
        S.Pending,
        "e1",
    )
    assert (state.version, state.input, state.generation, state.tags) == ("v2", '"in"', 0, {"team": "a"})
    assert (state.created_time, state.last_updated_time, state.scheduled_start_time) == (T0, NOW, at)
    assert state.output is None and state.completed_time is None and state.custom_status is None


def test_the_first_episode_makes_it_running_and_the_last_completes_it() -> None:
    pending = pending_state(_started(), "i1", T0)
    first = _episode(
        _at(1, EventType.OrchestratorStarted), _started(), _at(2, EventType.OrchestratorCompleted)
    )
    running = episode_state(pending, first, '"step 1"', keep_custom_status=False, now=NOW)
    assert (running.status, running.custom_status, running.last_updated_time) == (
        S.Running,
        '"step 1"',
        T0 + timedelta(minutes=2),
    )
    assert running.created_time == T0

    done = _at(9, EventType.ExecutionCompleted, OrchestrationStatus=int(S.Completed), Result='"out"')
    last = _episode(_at(8, EventType.OrchestratorStarted), done, past=first.events)
    completed = episode_state(running, last, None, keep_custom_status=True, now=NOW)
    assert (completed.status, completed.output, completed.completed_time) == (S.Completed, '"out"', NOW)
    assert completed.custom_status == '"step 1"'  # kept: user code did not set it this time
    assert completed.last_updated_time == T0 + timedelta(minutes=9)


def test_values_merge_as_the_row_does() -> None:
    running = episode_state(None, _episode(_started()), None, keep_custom_status=False, now=NOW)
    assert (running.name, running.status, running.custom_status) == ("Orch", S.Running, None)
    suspended = episode_state(
        running,
        _episode(_at(3, EventType.ExecutionSuspended, Reason="hold")),
        '"x"',
        keep_custom_status=False,
        now=NOW,
    )
    assert (suspended.status, suspended.output, suspended.custom_status) == (S.Suspended, "hold", '"x"')
    resumed = episode_state(
        suspended,
        _episode(_at(4, EventType.ExecutionResumed, Reason=None)),
        "null",
        keep_custom_status=False,
        now=NOW,
    )
    assert resumed.status == S.Running
    assert resumed.output == "hold"  # a missing value leaves the old one
    assert resumed.custom_status is None  # "null" is written: no custom status
    completed = episode_state(
        resumed,
        _episode(_at(5, EventType.ExecutionCompleted, OrchestrationStatus=int(S.Failed), Result=None)),
        None,
        keep_custom_status=True,
        now=NOW,
    )
    assert (completed.status, completed.output) == (S.Failed, "hold")


def test_a_new_execution_replaces_the_execution_fields() -> None:
    first = episode_state(None, _episode(_started()), None, keep_custom_status=False, now=NOW)
    untagged = _started("e2", generation=1, Tags=None, Input='"next"')
    second = episode_state(first, _episode(untagged), None, keep_custom_status=False, now=NOW)
    assert (second.execution_id, second.generation, second.input, second.tags) == ("e2", 1, '"next"', None)


def test_termination_and_rewind_outside_an_episode() -> None:
    pending = pending_state(_started(), "i1", T0)
    terminated = finished_state(pending, "i1", S.Terminated, "stop", NOW)
    assert (terminated.status, terminated.output, terminated.completed_time) == (S.Terminated, "stop", NOW)
    assert terminated.name == "Orch"
    failed = finished_state(None, "ghost", S.Failed, "poison", NOW)
    assert (failed.instance_id, failed.name, failed.status, failed.output) == (
        "ghost",
        "",
        S.Failed,
        "poison",
    )
    again = pending_again(failed, NOW + timedelta(minutes=1))
    assert (again.status, again.output, again.last_updated_time) == (
        S.Pending,
        "poison",
        NOW + timedelta(minutes=1),
    )
