"""Beginning an episode: duplicate deliveries never enter the history."""

from __future__ import annotations

from durable_ext.core.episode import begin_episode
from durable_ext.core.history import EventType, event, execution_started
from durable_ext.core.messages import TaskMessage
from durable_ext.core.service import OrchestrationWorkItem
from durable_ext.core.state import OrchestrationRuntimeState


def _item(past: list, *messages: TaskMessage) -> OrchestrationWorkItem:
    return OrchestrationWorkItem("i1", OrchestrationRuntimeState(past_events=past), list(messages))


def _message(event_type: EventType, **props: object) -> TaskMessage:
    return TaskMessage(event(event_type, -1, **props), "i1", "e1")


def test_a_completion_for_a_task_already_completed_is_dropped() -> None:
    started = execution_started(instance_id="i1", execution_id="e1", name="o", input_json=None)
    past = [
        event(EventType.OrchestratorStarted),
        started,
        event(EventType.TaskScheduled, 0, Name="a"),
        event(EventType.TaskScheduled, 1, Name="b"),
        event(EventType.TaskCompleted, -1, TaskScheduledId=0, Result='"x"'),
    ]
    item = _item(
        past,
        _message(EventType.TaskCompleted, TaskScheduledId=0, Result='"again"'),  # the activity ran twice
        _message(EventType.TaskCompleted, TaskScheduledId=1, Result='"y"'),
        _message(EventType.TaskFailed, TaskScheduledId=1, Reason="late duplicate"),
        _message(EventType.TimerFired, TimerId=7),
        _message(EventType.TimerFired, TimerId=7),
    )
    state = begin_episode(item)
    added = [(e.event_type, e.get("TaskScheduledId", e.get("TimerId"))) for e in state.new_events]
    assert added == [
        (EventType.OrchestratorStarted, None),
        (EventType.TaskCompleted, 1),
        (EventType.TimerFired, 7),
    ]
