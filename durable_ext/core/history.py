"""History events, as DurableTask.Core defines them.

An event keeps its common fields as attributes and every type-specific field in ``props`` under its
DurableTask name (``Name``, ``Input``, ``TaskScheduledId`` ...). In memory, enums inside ``props`` are
integers and date-times are aware ``datetime`` values; the storage and SDK codecs translate from there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import utc_now


class EventType(enum.IntEnum):
    """DurableTask.Core ``EventType``; the integer values are part of the wire format."""

    ExecutionStarted = 0
    ExecutionCompleted = 1
    ExecutionFailed = 2
    ExecutionTerminated = 3
    TaskScheduled = 4
    TaskCompleted = 5
    TaskFailed = 6
    SubOrchestrationInstanceCreated = 7
    SubOrchestrationInstanceCompleted = 8
    SubOrchestrationInstanceFailed = 9
    TimerCreated = 10
    TimerFired = 11
    OrchestratorStarted = 12
    OrchestratorCompleted = 13
    EventSent = 14
    EventRaised = 15
    ContinueAsNew = 16
    GenericEvent = 17
    HistoryState = 18
    ExecutionSuspended = 19
    ExecutionResumed = 20
    ExecutionRewound = 21


class OrchestrationStatus(enum.IntEnum):
    """DurableTask.Core ``OrchestrationStatus``."""

    Running = 0
    Completed = 1
    ContinuedAsNew = 2
    Failed = 3
    Canceled = 4
    Terminated = 5
    Pending = 6
    Suspended = 7

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        OrchestrationStatus.Completed,
        OrchestrationStatus.Failed,
        OrchestrationStatus.Canceled,
        OrchestrationStatus.Terminated,
    }
)

# The DurableTask class name of each event type (the ``$type`` of queue messages).
CLASS_NAMES: dict[EventType, str] = {
    EventType.ExecutionStarted: "ExecutionStartedEvent",
    EventType.ExecutionCompleted: "ExecutionCompletedEvent",
    EventType.ExecutionTerminated: "ExecutionTerminatedEvent",
    EventType.TaskScheduled: "TaskScheduledEvent",
    EventType.TaskCompleted: "TaskCompletedEvent",
    EventType.TaskFailed: "TaskFailedEvent",
    EventType.SubOrchestrationInstanceCreated: "SubOrchestrationInstanceCreatedEvent",
    EventType.SubOrchestrationInstanceCompleted: "SubOrchestrationInstanceCompletedEvent",
    EventType.SubOrchestrationInstanceFailed: "SubOrchestrationInstanceFailedEvent",
    EventType.TimerCreated: "TimerCreatedEvent",
    EventType.TimerFired: "TimerFiredEvent",
    EventType.OrchestratorStarted: "OrchestratorStartedEvent",
    EventType.OrchestratorCompleted: "OrchestratorCompletedEvent",
    EventType.EventSent: "EventSentEvent",
    EventType.EventRaised: "EventRaisedEvent",
    EventType.ContinueAsNew: "ContinueAsNewEvent",
    EventType.GenericEvent: "GenericEvent",
    EventType.HistoryState: "HistoryStateEvent",
    EventType.ExecutionSuspended: "ExecutionSuspendedEvent",
    EventType.ExecutionResumed: "ExecutionResumedEvent",
    EventType.ExecutionRewound: "ExecutionRewoundEvent",
}
EVENT_TYPES_BY_CLASS_NAME = {name: event_type for event_type, name in CLASS_NAMES.items()}

# Props stored as JSON text in tables (objects in queue messages and SDK context).
JSON_PROPS = frozenset(
    {"OrchestrationInstance", "ParentInstance", "Tags", "FailureDetails", "ParentTraceContext", "State"}
)
# Props holding date-times.
DATETIME_PROPS = frozenset({"FireAt", "ScheduledStartTime"})
# Props holding an OrchestrationStatus (integer in memory and messages, name in tables).
STATUS_PROPS = frozenset({"OrchestrationStatus"})
# Props that may be too large for a table property or a queue message.
LARGE_PROPS = ("Input", "Result", "Output", "Reason", "Details", "Name", "Correlation", "FailureDetails")

# Events whose EventId is the task sequence id that completions refer to.
SCHEDULING_EVENTS = frozenset(
    {
        EventType.TaskScheduled,
        EventType.TimerCreated,
        EventType.SubOrchestrationInstanceCreated,
        EventType.EventSent,
    }
)


@dataclass
class HistoryEvent:
    event_type: EventType
    event_id: int = -1
    timestamp: datetime = field(default_factory=utc_now)
    is_played: bool = False
    props: dict[str, Any] = field(default_factory=dict)

    def get(self, prop: str, default: Any = None) -> Any:
        return self.props.get(prop, default)

    @property
    def name(self) -> str | None:
        value = self.props.get("Name")
        return None if value is None else str(value)

    @property
    def input(self) -> str | None:
        value = self.props.get("Input")
        return None if value is None else str(value)

    @property
    def task_scheduled_id(self) -> int | None:
        value = self.props.get("TaskScheduledId")
        return None if value is None else int(value)

    @property
    def timer_id(self) -> int | None:
        value = self.props.get("TimerId")
        return None if value is None else int(value)

    def copy(self, *, timestamp: datetime | None = None, is_played: bool | None = None) -> HistoryEvent:
        return HistoryEvent(
            self.event_type,
            self.event_id,
            self.timestamp if timestamp is None else timestamp,
            self.is_played if is_played is None else is_played,
            dict(self.props),
        )


def execution_started(
    *,
    instance_id: str,
    execution_id: str,
    name: str,
    input_json: str | None,
    version: str = "",
    parent: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    generation: int = 0,
    scheduled_start_time: datetime | None = None,
    timestamp: datetime | None = None,
) -> HistoryEvent:
    props: dict[str, Any] = {
        "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
        "ParentInstance": parent,
        "Name": name,
        "Version": version,
        "Input": input_json,
        "Tags": tags,
        "Correlation": None,
        "ScheduledStartTime": scheduled_start_time,
        "Generation": generation,
    }
    return HistoryEvent(EventType.ExecutionStarted, -1, timestamp or utc_now(), False, props)


def event(event_type: EventType, event_id: int = -1, **props: Any) -> HistoryEvent:
    """Build an event with the given DurableTask props (``Name=...``, ``TaskScheduledId=...``)."""
    return HistoryEvent(event_type, event_id, utc_now(), False, props)
