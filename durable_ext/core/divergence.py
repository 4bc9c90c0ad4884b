"""How an orchestrator's code departs from a recorded history, in words a user can act on.

The replay engine compares what the code schedules with what the history recorded, event by event. The
first difference is a :class:`Divergence`: the index of the history event where it shows (counted from
0, as in the History table and in an exported history file), what that event records, and what the code
now does there. The engine fails an instance with :meth:`Divergence.describe`; the replay tool reports
the same words.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidEntityIdError
from .entities import EntityId, is_entity_instance
from .history import EventType, HistoryEvent, OrchestrationStatus
from .history_json import format_time

TIMER_TOLERANCE = timedelta(milliseconds=1)
"""Stored times may be truncated to milliseconds: fire times closer than this are the same timer."""

MAX_QUOTED_REASON_CHARS = 200

ADVICE = (
    "Orchestrator code must not change while instances of it run: version the orchestrator (deploy the "
    "changed code under a new name) or let the running instances finish first. If the code did not "
    "change, it decides on something other than its input, its history and its context (the wall clock, "
    "random numbers, I/O): move that into an activity."
)


class DivergenceKind(enum.Enum):
    """What kind of difference the code makes against the history."""

    DIFFERENT_TASK = "different-task"
    """Another activity, sub-orchestration or entity name, or another kind of task, at that id."""
    MISSING_TASK = "missing-task"
    """The history has a task the code does not schedule."""
    NEW_TASK = "new-task"
    """The code schedules a task where the history recorded none."""
    DIFFERENT_TIMER = "different-timer"
    """The code asks for a timer firing at another time than the history recorded."""
    DIFFERENT_COMPLETION = "different-completion"
    """The code ends otherwise than the history: another outcome, still waiting where it ended, or ending
    where a running history goes on."""
    MISSING_ORCHESTRATOR = "missing-orchestrator"
    """The app no longer defines the orchestrator the history belongs to."""


@dataclass(frozen=True)
class Divergence:
    kind: DivergenceKind
    event_index: int
    """Where in the execution's history events the difference shows, counted from 0."""
    recorded: str
    """What the history has at that event, e.g. ``TaskScheduled #2 'charge_card'``."""
    now: str
    """What the code does there instead, as the end of the sentence ``..., but <now>.``"""

    def describe(self) -> str:
        return f"Event {self.event_index} of the history is {self.recorded}, but {self.now}. {ADVICE}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "eventIndex": self.event_index,
            "recorded": self.recorded,
            "now": self.now,
            "message": self.describe(),
        }


# ---- labels -----------------------------------------------------------------------------------------
def label(event: HistoryEvent) -> str:
    """A history event as the user reads it: ``TaskScheduled #2 'charge_card'``."""
    kind = event.event_type
    head = f"{kind.name} #{event.event_id}" if event.event_id >= 0 else kind.name
    if kind == EventType.TimerCreated:
        fire_at = event.get("FireAt")
        if not isinstance(fire_at, datetime):
            return head
        return f"{head} firing at {format_time(fire_at, 'milliseconds')}"
    if kind == EventType.EventSent:
        target = str(event.get("InstanceId") or "")
        if is_entity_instance(target):
            return f"{head} (an operation on entity '{target}')"
        return f"{head} '{event.name}' to instance '{target}'"
    if kind in (EventType.ExecutionCompleted, EventType.ExecutionFailed):
        return f"{kind.name} ({_status_name(event)})"
    return f"{head} '{event.name}'" if event.name is not None else head


def _status_name(event: HistoryEvent) -> str:
    status = recorded_status(event)
    return str(event.get("OrchestrationStatus")) if status is None else status.name


def recorded_status(event: HistoryEvent) -> OrchestrationStatus | None:
    """The outcome an ``ExecutionCompleted`` records (``None`` if it names no known status)."""
    try:
        return OrchestrationStatus(int(event.get("OrchestrationStatus", OrchestrationStatus.Completed)))
    except (TypeError, ValueError):
        return None


# ---- rules ------------------------------------------------------------------------------------------
def same_task(recorded: HistoryEvent, scheduled: HistoryEvent) -> bool:
    """The same kind of task with the same name (names are case-insensitive, as function names are)."""
    return recorded.event_type == scheduled.event_type and task_name(recorded) == task_name(scheduled)


def task_name(event: HistoryEvent) -> str:
    """The name a task at an id must keep: its function's, or for an operation on an entity the
    entity's (the operation and the key may follow from the input)."""
    target = str(event.get("InstanceId") or "") if event.event_type == EventType.EventSent else ""
    if is_entity_instance(target):
        with contextlib.suppress(InvalidEntityIdError):
            return EntityId.parse(target).name.lower()
    return (event.name or "").lower()


def different_task(index: int, recorded: HistoryEvent, scheduled: HistoryEvent) -> Divergence:
    return Divergence(
        DivergenceKind.DIFFERENT_TASK,
        index,
        label(recorded),
        f"the orchestrator now schedules {label(scheduled)} at that point",
    )


def missing_task(index: int, recorded: HistoryEvent, ending: OrchestrationStatus | None) -> Divergence:
    """The history has ``recorded``; the code got this far without scheduling it (and may have ended)."""
    if ending is None:
        now = "the orchestrator now does not schedule it at that point: the code no longer has this task"
    else:
        now = (
            f"the orchestrator now ends ({ending.name}) without scheduling it: the code no longer has "
            "this task"
        )
    return Divergence(DivergenceKind.MISSING_TASK, index, label(recorded), now)


def different_timer(index: int, recorded: HistoryEvent, scheduled: HistoryEvent) -> Divergence | None:
    """A timer whose fire time moved by more than :data:`TIMER_TOLERANCE`; ``None`` when it did not."""
    was, now = recorded.get("FireAt"), scheduled.get("FireAt")
    if not isinstance(was, datetime) or not isinstance(now, datetime) or abs(was - now) <= TIMER_TOLERANCE:
        return None
    return Divergence(
        DivergenceKind.DIFFERENT_TIMER,
        index,
        label(recorded),
        f"the orchestrator now asks for {label(scheduled)} at that point",
    )


def new_task(index: int, recorded: HistoryEvent, scheduled: HistoryEvent) -> Divergence:
    """The code scheduled ``scheduled`` in an episode the history closes at ``recorded`` without it."""
    where = (
        "in that episode" if recorded.event_type == EventType.OrchestratorCompleted else "instead of ending"
    )
    return Divergence(
        DivergenceKind.NEW_TASK,
        index,
        label(recorded),
        f"the orchestrator now schedules {label(scheduled)} {where}: a task the history does not have",
    )


def different_completion(
    index: int, recorded: HistoryEvent, status: OrchestrationStatus | None, reason: str | None = None
) -> Divergence:
    """The history ends with ``recorded`` (or closes its last episode there without ending); the code now
    ends with ``status`` (``None``: it keeps waiting)."""
    if status is None:
        now = "the orchestrator now keeps waiting there (for an event, a timer or a task) instead of ending"
    elif status == OrchestrationStatus.Failed:
        now = "the orchestrator now fails there" + (f": {_quoted(reason)}" if reason else "")
    elif status == OrchestrationStatus.ContinuedAsNew:
        now = "the orchestrator now continues as new there"
    else:
        now = f"the orchestrator now ends there as {status.name}"
    if recorded.event_type == EventType.OrchestratorCompleted:
        now += ", where the history goes on without ending"
    return Divergence(DivergenceKind.DIFFERENT_COMPLETION, index, label(recorded), now)


def missing_orchestrator(index: int, started: HistoryEvent, reason: str | None = None) -> Divergence:
    """The app has no orchestrator by the history's name; ``reason`` says why if it defines one but it
    does not run (disabled)."""
    name = started.name or ""
    now = f"the app now has no orchestrator function named '{name}' to run it"
    return Divergence(
        DivergenceKind.MISSING_ORCHESTRATOR, index, label(started), f"{now} ({reason})" if reason else now
    )


def _quoted(text: str) -> str:
    one_line = " ".join(text.split())
    if len(one_line) > MAX_QUOTED_REASON_CHARS:
        one_line = one_line[: MAX_QUOTED_REASON_CHARS - 3] + "..."
    return one_line
