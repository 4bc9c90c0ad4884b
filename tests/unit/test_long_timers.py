"""Timers longer than the queue's 7-day visibility limit: the SDK chains shorter ones, given the durations
the host sends in the context; every timer message the host sends stays within the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df

from durable_ext.core.episode import finish_episode
from durable_ext.core.history import EventType, HistoryEvent, event, execution_started
from durable_ext.core.replay import replay
from durable_ext.core.state import OrchestrationRuntimeState
from durable_ext.extension.protocol import OrchestratorState, build_context
from durable_ext.extension.shim import shim_program

T0 = datetime(2024, 1, 1, tzinfo=UTC)
QUEUE_LIMIT = timedelta(days=7)

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def ten_day_wait(context: df.DurableOrchestrationContext) -> Any:
    yield context.create_timer(context.current_utc_datetime + timedelta(days=10))
    return "woke up"


HANDLE = next(f for f in app.get_functions() if f.get_function_name() == "ten_day_wait").get_user_function()


def started_at(at: datetime) -> HistoryEvent:
    e = event(EventType.OrchestratorStarted)
    e.timestamp = at
    return e


def test_a_ten_day_timer_is_chained_from_timers_the_queue_can_hold() -> None:
    past: list[HistoryEvent] = []
    new = [
        started_at(T0),
        execution_started(
            instance_id="i", execution_id="e", name="ten_day_wait", input_json=None, timestamp=T0
        ),
    ]
    now = T0
    fire_times: list[datetime] = []
    for _ in range(10):
        state = OrchestrationRuntimeState(past_events=past, new_events=new)
        sdk_state = OrchestratorState.from_json(HANDLE(build_context(state)))
        if sdk_state.is_done:
            assert sdk_state.output == "woke up"
            break
        result = finish_episode(state, replay(state, shim_program("ten_day_wait", sdk_state)))
        timers = [m for m in result.orchestrator_messages if m.event_type == EventType.TimerFired]
        assert len(timers) == 1
        fire_at = timers[0].visible_at
        assert fire_at is not None and fire_at - now <= QUEUE_LIMIT
        fire_times.append(fire_at)
        past = state.events
        now = fire_at
        new = [started_at(now), timers[0].event]
    else:
        raise AssertionError("the orchestration never finished")
    assert fire_times[-1] == T0 + timedelta(days=10)
    assert len(fire_times) >= 2
