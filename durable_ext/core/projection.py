"""An instance's status as a projection of its history: what the Azure Storage provider writes to the
Instances row, field for field, kept as an :class:`OrchestrationState` (the memory and PostgreSQL
providers keep the same fields).

Writes merge as that row does: a field whose new value is ``None`` keeps its old value, except the
custom status and the tags, which are always written (``"null"`` there). Times that are the store's
own (``LastUpdatedTime`` outside an episode, ``CompletedTime``) come from the hub's clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from .history import EventType, HistoryEvent, OrchestrationStatus
from .state import OrchestrationRuntimeState, OrchestrationState

_ALWAYS_WRITTEN = frozenset({"custom_status", "tags"})


def merged(state: OrchestrationState, fields: dict[str, Any]) -> OrchestrationState:
    kept = {k: v for k, v in fields.items() if v is not None or k in _ALWAYS_WRITTEN}
    return replace(state, **kept)


def pending_state(started: HistoryEvent, instance_id: str, now: datetime) -> OrchestrationState:
    """The status a client writes when it starts an instance (replacing any older generation's)."""
    instance = started.props["OrchestrationInstance"]
    return OrchestrationState(
        instance_id=instance_id,
        name=started.name or "",
        status=OrchestrationStatus.Pending,
        execution_id=instance["ExecutionId"],
        version=str(started.get("Version") or ""),
        input=started.input,
        created_time=started.timestamp,
        last_updated_time=now,
        scheduled_start_time=started.get("ScheduledStartTime"),
        generation=int(started.get("Generation") or 0),
        tags=_tags(started),
    )


def episode_state(
    previous: OrchestrationState | None,
    runtime_state: OrchestrationRuntimeState,
    custom_status: str | None,
    *,
    keep_custom_status: bool,
    now: datetime,
) -> OrchestrationState:
    """Merge what an episode changed into the status (``InstanceStore.update_from_episode``)."""
    instance_id = runtime_state.instance_id or ""
    base = previous or OrchestrationState(instance_id, "", OrchestrationStatus.Pending)
    new_events = runtime_state.new_events
    fields: dict[str, Any] = {
        "execution_id": runtime_state.execution_id,
        "last_updated_time": new_events[-1].timestamp if new_events else now,
    }
    if not keep_custom_status:
        fields["custom_status"] = None if custom_status in (None, "null") else custom_status
    for event in new_events:
        fields.update(_fields_for(event, now))
    return merged(base, fields)


def finished_state(
    previous: OrchestrationState | None,
    instance_id: str,
    status: OrchestrationStatus,
    output: str | None,
    now: datetime,
) -> OrchestrationState:
    """Finished outside an episode: terminated before it started, or failed by its poison messages."""
    base = previous or OrchestrationState(instance_id, "", status)
    fields = {"status": status, "output": output, "last_updated_time": now, "completed_time": now}
    return merged(base, fields)


def pending_again(state: OrchestrationState, now: datetime) -> OrchestrationState:
    """``Pending`` for a rewound instance."""
    return merged(state, {"status": OrchestrationStatus.Pending, "last_updated_time": now})


def _tags(started: HistoryEvent) -> dict[str, str] | None:
    tags = started.get("Tags")
    return dict(tags) if tags else None


def _fields_for(event: HistoryEvent, now: datetime) -> dict[str, Any]:
    kind = event.event_type
    if kind == EventType.ExecutionStarted:
        return {
            "name": event.name,
            "version": str(event.get("Version") or ""),
            "created_time": event.timestamp,
            "status": OrchestrationStatus.Running,
            "generation": int(event.get("Generation") or 0),
            "input": event.input,
            "tags": _tags(event),
            "scheduled_start_time": event.get("ScheduledStartTime"),
        }
    if kind == EventType.ExecutionCompleted:
        status = OrchestrationStatus(int(event.get("OrchestrationStatus", OrchestrationStatus.Completed)))
        return {"status": status, "completed_time": now, "output": event.get("Result")}
    if kind == EventType.ExecutionTerminated:
        return {"status": OrchestrationStatus.Terminated, "completed_time": now, "output": event.input}
    if kind == EventType.ExecutionSuspended:
        return {"status": OrchestrationStatus.Suspended, "output": event.get("Reason")}
    if kind == EventType.ExecutionResumed:
        return {"status": OrchestrationStatus.Running, "output": event.get("Reason")}
    return {}
