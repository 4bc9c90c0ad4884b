"""The JSON bodies of the HTTP API: instance status (with history) and the check-status links."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from ..core.history import EventType, HistoryEvent, OrchestrationStatus
from ..core.state import OrchestrationState
from ..core.timefmt import format_dotnet, format_seconds
from .protocol import embedded_input

_SCHEDULED_BY_COMPLETION = {
    EventType.TaskCompleted: EventType.TaskScheduled,
    EventType.TaskFailed: EventType.TaskScheduled,
    EventType.SubOrchestrationInstanceCompleted: EventType.SubOrchestrationInstanceCreated,
    EventType.SubOrchestrationInstanceFailed: EventType.SubOrchestrationInstanceCreated,
}
_HIDDEN_EVENTS = {
    EventType.OrchestratorStarted,
    EventType.OrchestratorCompleted,
    EventType.TaskScheduled,
    EventType.SubOrchestrationInstanceCreated,
}
_DROPPED_PROPS = {
    "EventId",
    "IsPlayed",
    "TaskScheduledId",
    "TimerId",
    "OrchestrationInstance",
    "ParentInstance",
    "Version",
    "Tags",
    "Correlation",
    "ParentTraceContext",
}


def status_payload(
    state: OrchestrationState,
    *,
    show_input: bool = True,
    history: list[HistoryEvent] | None = None,
    show_history_output: bool = False,
    show_pending: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": state.name,
        "instanceId": state.instance_id,
        "runtimeStatus": state.status.name,
        "input": embedded_input(state.input) if show_input else None,
        "customStatus": embedded_input(state.custom_status),
        "output": embedded_input(state.output),
        "createdTime": format_seconds(state.created_time) if state.created_time else None,
        "lastUpdatedTime": format_seconds(state.last_updated_time) if state.last_updated_time else None,
    }
    if history is not None:
        body["historyEvents"] = history_payload(history, show_input, show_history_output, show_pending)
    return body


def history_payload(
    events: list[HistoryEvent], show_input: bool, show_output: bool, show_pending: bool = False
) -> list[dict[str, Any]]:
    """History for the status API: scheduling events merged into their completions, as .NET does.

    ``show_pending`` (durable-ext's own) keeps the scheduling of activities and sub-orchestrations that
    have not completed yet, as ``TaskScheduled`` and ``SubOrchestrationInstanceCreated`` items.
    """
    scheduled = {(e.event_type, e.event_id): e for e in events if e.event_id >= 0}
    answered = {
        (kind, int(e.get("TaskScheduledId", -1)))
        for e in events
        if (kind := _SCHEDULED_BY_COMPLETION.get(e.event_type)) is not None
    }
    out: list[dict[str, Any]] = []
    for e in events:
        if e.event_type in _HIDDEN_EVENTS:
            if show_pending and e.event_type in _PENDING_KINDS and (e.event_type, e.event_id) not in answered:
                out.append(_pending_item(e, show_input))
            continue
        item: dict[str, Any] = {"EventType": e.event_type.name}
        for key, value in e.props.items():
            if key in _DROPPED_PROPS or value is None:
                continue
            item[key] = format_dotnet(value) if hasattr(value, "isoformat") else value
        if e.event_type == EventType.ExecutionStarted:
            item["FunctionName"] = item.pop("Name", None)
        origin_type = _SCHEDULED_BY_COMPLETION.get(e.event_type)
        if origin_type is not None:
            origin = scheduled.get((origin_type, int(e.get("TaskScheduledId", -1))))
            if origin is not None:
                item["FunctionName"] = origin.name
                item["ScheduledTime"] = format_dotnet(origin.timestamp)
                if show_input and origin.input is not None:
                    item["Input"] = _scheduled_input(origin)
        if "OrchestrationStatus" in item:
            item["OrchestrationStatus"] = OrchestrationStatus(int(item["OrchestrationStatus"])).name
        if "Result" in item:
            if show_output:
                item["Result"] = embedded_input(item["Result"])
            else:
                del item["Result"]
        if not show_input:
            item.pop("Input", None)
        item["Timestamp"] = format_dotnet(e.timestamp)
        out.append(item)
    return out


_PENDING_KINDS = {EventType.TaskScheduled, EventType.SubOrchestrationInstanceCreated}


def _pending_item(e: HistoryEvent, show_input: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"EventType": e.event_type.name, "FunctionName": e.name, "EventId": e.event_id}
    if e.event_type == EventType.SubOrchestrationInstanceCreated:
        item["InstanceId"] = e.get("InstanceId")
    if show_input and e.input is not None:
        item["Input"] = _scheduled_input(e)
    item["Timestamp"] = format_dotnet(e.timestamp)
    return item


def _scheduled_input(scheduled: HistoryEvent) -> Any:
    """An activity's input as the activity saw it (``TaskScheduled.Input`` wraps it in a JSON array)."""
    value = embedded_input(scheduled.input)
    if scheduled.event_type == EventType.TaskScheduled and isinstance(value, list) and len(value) == 1:
        inner = value[0]
        return embedded_input(inner) if isinstance(inner, str) else inner
    return value


MANAGEMENT_LINK_NAMES = (
    "statusQueryGetUri",
    "sendEventPostUri",
    "terminatePostUri",
    "rewindPostUri",
    "purgeHistoryDeleteUri",
    "restartPostUri",
    "suspendPostUri",
    "resumePostUri",
)
"""The URLs of the check-status payload, beside its ``id``."""


def management_links(base_url: str, instance_id: str, query: dict[str, str]) -> dict[str, str]:
    """The check-status payload: every management URL of one instance."""
    suffix = urlencode(query)
    instance = f"{base_url}/instances/{quote(instance_id, safe='')}"

    def url(path: str, extra: str = "") -> str:
        return f"{instance}{path}?{extra}{suffix}"

    return {
        "id": instance_id,
        "statusQueryGetUri": url(""),
        "sendEventPostUri": url("/raiseEvent/{eventName}"),
        "terminatePostUri": url("/terminate", "reason={text}&"),
        "rewindPostUri": url("/rewind", "reason={text}&"),
        "purgeHistoryDeleteUri": url(""),
        "restartPostUri": url("/restart"),
        "suspendPostUri": url("/suspend", "reason={text}&"),
        "resumePostUri": url("/resume", "reason={text}&"),
    }


def error_body(message: str, *, parameter: str | None = None, limit: int | None = None, **fields: Any) -> str:
    """The shape .NET uses for 400s (the SDK reads ``ExceptionMessage``), with the ``parameter`` at fault,
    the ``limit`` it broke and any further ``fields``.

    None of these keys may be a property name of the SDK's ``DurableOrchestrationStatus``: the SDK builds
    one from the body of a 404 status answer.
    """
    body: dict[str, Any] = {"Message": message, "ExceptionMessage": message}
    if parameter is not None:
        body["parameter"] = parameter
    if limit is not None:
        body["limit"] = limit
    return json.dumps(body | fields)
