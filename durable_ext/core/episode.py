"""Turning a work item into an episode and the replay's outcome into history and outbound messages."""

from __future__ import annotations

import logging

from .entities import is_entity_instance
from .entity_scheduler import auto_start
from .history import EventType, HistoryEvent, OrchestrationStatus, event, execution_started, utc_now
from .ids import child_execution_id, next_execution_id
from .messages import TaskMessage
from .replay import Command, Completion, ReplayOutcome
from .service import EpisodeResult, OrchestrationWorkItem
from .state import OrchestrationRuntimeState

log = logging.getLogger("durable_ext.episode")


def begin_episode(item: OrchestrationWorkItem) -> OrchestrationRuntimeState:
    """Append ``OrchestratorStarted`` and the new messages' events to the work item's history."""
    state = item.runtime_state
    state.add(event(EventType.OrchestratorStarted))
    starts = any(m.event_type == EventType.ExecutionStarted for m in item.new_messages)
    if state.execution_started is None and not starts and is_entity_instance(item.instance_id):
        state.add(auto_start(item.instance_id))
    completed: set[tuple[str, int | str]] = {k for e in state.events if (k := completion_key(e)) is not None}
    if not is_entity_instance(item.instance_id):  # only an orchestration receives entity responses
        completed |= {response_key(e.name) for e in state.events if e.event_type == EventType.EventRaised}
    for message in item.new_messages:
        if message.event_type == EventType.ExecutionStarted and state.execution_started is not None:
            log.info("Dropping a duplicate start of instance '%s'", item.instance_id)
            continue
        key = message_key(message)
        if key is not None and key in completed:  # delivered twice (at-least-once), or its task ran twice
            log.info("Dropping a duplicate %s of instance '%s'", message.describe(), item.instance_id)
            continue
        if key is not None:
            completed.add(key)
        state.add(message.event.copy(is_played=False))
    return state


_COMPLETION_IDS = {
    EventType.TaskCompleted: ("task", "TaskScheduledId"),
    EventType.TaskFailed: ("task", "TaskScheduledId"),
    EventType.SubOrchestrationInstanceCompleted: ("task", "TaskScheduledId"),
    EventType.SubOrchestrationInstanceFailed: ("task", "TaskScheduledId"),
    EventType.TimerFired: ("timer", "TimerId"),
}


def message_key(message: TaskMessage) -> tuple[str, int | str] | None:
    """What a message completes, if only one such message may ever be applied: a task's or timer's
    completion, or an entity's response to a request (named by the request's id)."""
    if message.event_type == EventType.EventRaised:
        from_entity = is_entity_instance(message.sender_instance_id)
        return (
            response_key(message.event.name)
            if from_entity and not is_entity_instance(message.instance_id)
            else None
        )
    return completion_key(message.event)


def response_key(name: str | None) -> tuple[str, str]:
    return "response", (name or "").lower()


def completion_key(event: HistoryEvent) -> tuple[str, int] | None:
    """What a completion completes (one completion per task or timer, as DurableTask.Core keeps it)."""
    kind = _COMPLETION_IDS.get(event.event_type)
    if kind is None:
        return None
    return kind[0], int(event.get(kind[1], -1))


def finish_episode(state: OrchestrationRuntimeState, outcome: ReplayOutcome) -> EpisodeResult:
    """Record the new commands and the completion in history, and build the messages they send."""
    result = EpisodeResult(
        runtime_state=state, custom_status=outcome.custom_status, keep_custom_status=not outcome.user_code_ran
    )
    instance_id = state.instance_id or ""
    execution_id = state.execution_id or ""
    episode = state.episode
    for command in outcome.new_commands:
        recorded = command.event.copy(timestamp=utc_now())
        state.add(recorded)
        message = _outbound(command, instance_id, execution_id)
        message.sender_instance_id, message.sender_execution_id = instance_id, execution_id
        message.episode = episode
        if command.event.event_type == EventType.TaskScheduled:
            result.activity_messages.append(message)
        else:
            result.orchestrator_messages.append(message)
    if outcome.completion is not None:
        _complete(state, outcome.completion, result)
    state.add(event(EventType.OrchestratorCompleted))
    return result


def next_generation(old: OrchestrationRuntimeState, outcome: ReplayOutcome) -> OrchestrationRuntimeState:
    """The state a continue-as-new starts from: a new execution id, the new input, and the events that
    arrived but were never waited for (DurableTask's default "carry over" behaviour)."""
    started = old.execution_started
    assert started is not None and outcome.completion is not None
    state = OrchestrationRuntimeState()
    state.add(event(EventType.OrchestratorStarted))
    state.add(
        execution_started(
            instance_id=old.instance_id or "",
            execution_id=next_execution_id(old.instance_id or "", old.execution_id or ""),
            name=old.name or "",
            input_json=outcome.completion.continue_input,
            version=str(started.get("Version") or ""),
            parent=old.parent_instance,
            tags=started.get("Tags"),
            generation=int(started.get("Generation") or 0) + 1,
        )
    )
    for carried in outcome.unconsumed_events:
        state.add(carried.copy(is_played=False))
    return state


def _outbound(command: Command, instance_id: str, execution_id: str) -> TaskMessage:
    scheduled = command.event
    kind = scheduled.event_type
    if kind == EventType.TaskScheduled:
        return TaskMessage(scheduled.copy(), instance_id, execution_id)
    if kind == EventType.TimerCreated:
        fire_at = scheduled.get("FireAt")
        fired = event(EventType.TimerFired, -1, TimerId=command.id, FireAt=fire_at)
        return TaskMessage(fired, instance_id, execution_id, visible_at=fire_at)
    if kind == EventType.SubOrchestrationInstanceCreated:
        child_id = str(scheduled.get("InstanceId"))
        child_execution = child_execution_id(instance_id, execution_id, command.id)
        parent = {
            "Name": None,
            "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
            "TaskScheduleId": command.id,
            "Version": "",
        }
        started = execution_started(
            instance_id=child_id,
            execution_id=child_execution,
            name=str(scheduled.name),
            input_json=scheduled.input,
            parent=parent,
        )
        return TaskMessage(started, child_id, child_execution)
    if kind == EventType.EventSent:
        raised = event(EventType.EventRaised, -1, Name=scheduled.name, Input=scheduled.input)
        target = str(scheduled.get("InstanceId"))
        return TaskMessage(raised, target, command.target_execution_id, visible_at=command.visible_at)
    raise ValueError(f"no outbound message for {kind.name}")


def _complete(state: OrchestrationRuntimeState, completion: Completion, result: EpisodeResult) -> None:
    completed = event(
        EventType.ExecutionCompleted,
        -1,
        OrchestrationStatus=int(completion.status),
        Result=completion.result,
        FailureDetails=completion.failure_details,
    )
    state.add(completed)
    parent = state.parent_instance
    if not parent or completion.status == OrchestrationStatus.ContinuedAsNew:
        return
    parent_instance = parent.get("OrchestrationInstance") or {}
    task_id = int(parent.get("TaskScheduleId", -1))
    if completion.status == OrchestrationStatus.Completed:
        reply = event(
            EventType.SubOrchestrationInstanceCompleted, -1, TaskScheduledId=task_id, Result=completion.result
        )
    else:
        reply = event(
            EventType.SubOrchestrationInstanceFailed,
            -1,
            TaskScheduledId=task_id,
            Reason=completion.result,
            Details=completion.details,
        )
        if completion.failure_details is not None:
            reply.props["FailureDetails"] = completion.failure_details
    result.orchestrator_messages.append(
        TaskMessage(
            reply,
            str(parent_instance.get("InstanceId")),
            parent_instance.get("ExecutionId"),
            sender_instance_id=state.instance_id or "",
            sender_execution_id=state.execution_id or "",
        )
    )
