"""Rows to and from the engine's objects: messages and history events as JSON, statuses as columns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..core.clock import WALL_CLOCK
from ..core.history import HistoryEvent, OrchestrationStatus
from ..core.history_json import event_from_json, event_to_json, format_time
from ..core.messages import TaskMessage
from ..core.state import OrchestrationState
from ..core.timefmt import parse_datetime

STATE_COLUMNS = (
    "InstanceID, ExecutionID, Name, Version, RuntimeStatus, CreatedTime, LastUpdatedTime, CompletedTime, "
    "ScheduledStartTime, Generation, Input, Output, CustomStatus, Tags, ParentInstanceID"
)


def wall_now() -> datetime:
    """The provider's time: the wall clock, as the database's ``now()`` that decides visibility."""
    return WALL_CLOCK.now()


INSERT_HISTORY = (
    "INSERT INTO {s}.History (TaskHub, InstanceID, ExecutionID, SequenceNumber, EventType, Name, TaskID, "
    "Timestamp, Event) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)


def history_rows(
    hub: str, instance_id: str, execution_id: str, first: int, events: list[HistoryEvent]
) -> list[tuple[Any, ...]]:
    """The parameters of :data:`INSERT_HISTORY` for ``events`` numbered from ``first``."""
    return [
        (
            hub,
            instance_id,
            execution_id,
            first + n,
            e.event_type.name,
            e.name,
            e.event_id if e.event_id >= 0 else None,
            e.timestamp,
            event_json(e),
        )
        for n, e in enumerate(events)
    ]


def message_to_json(message: TaskMessage) -> str:
    return json.dumps(
        {
            "event": event_to_json(message.event),
            "instanceId": message.instance_id,
            "executionId": message.execution_id,
            "visibleAt": format_time(message.visible_at) if message.visible_at else None,
            "senderInstanceId": message.sender_instance_id,
            "senderExecutionId": message.sender_execution_id,
            "episode": message.episode,
        },
        separators=(",", ":"),
    )


def message_from_json(text: str | Mapping[str, Any]) -> TaskMessage:
    data = json.loads(text) if isinstance(text, str) else text
    visible = data.get("visibleAt")
    return TaskMessage(
        event_from_json(data["event"]),
        str(data["instanceId"]),
        data.get("executionId"),
        parse_datetime(visible) if visible else None,
        str(data.get("senderInstanceId") or ""),
        str(data.get("senderExecutionId") or ""),
        data.get("episode"),
    )


def event_json(event: HistoryEvent) -> str:
    return json.dumps(event_to_json(event), separators=(",", ":"))


def event_of(text: str) -> HistoryEvent:
    return event_from_json(json.loads(text))


def state_params(state: OrchestrationState) -> tuple[Any, ...]:
    """The parameters for :data:`STATE_COLUMNS`, in order."""
    return (
        state.instance_id,
        state.execution_id,
        state.name,
        state.version,
        state.status.name,
        state.created_time,
        state.last_updated_time,
        state.completed_time,
        state.scheduled_start_time,
        state.generation,
        state.input,
        state.output,
        state.custom_status,
        json.dumps(state.tags) if state.tags is not None else None,
        state.parent_instance_id,
    )


def state_of(row: Mapping[str, Any], *, with_input: bool = True) -> OrchestrationState:
    tags = row["tags"]
    return OrchestrationState(
        instance_id=row["instanceid"],
        name=row["name"] or "",
        status=OrchestrationStatus[row["runtimestatus"]],
        execution_id=row["executionid"],
        version=row["version"] or "",
        input=row["input"] if with_input else None,
        output=row["output"],
        custom_status=row["customstatus"],
        created_time=row["createdtime"],
        last_updated_time=row["lastupdatedtime"],
        completed_time=row["completedtime"],
        scheduled_start_time=row["scheduledstarttime"],
        generation=int(row["generation"] or 0),
        tags=json.loads(tags) if isinstance(tags, str) else tags,
        parent_instance_id=row["parentinstanceid"],
    )
