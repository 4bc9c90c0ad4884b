"""The out-of-process orchestration protocol of azure-functions-durable 1.x.

In: the context JSON (schema V3) the SDK's orchestrator ``handle`` reads. Out: the ``OrchestratorState``
JSON it returns, or the exception it raises with the state appended after ``$OutOfProcData$:``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..core.history import HistoryEvent
from ..core.state import OrchestrationRuntimeState
from ..core.timefmt import format_dotnet, format_timespan

OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"
MAXIMUM_SHORT_TIMER = timedelta(days=6)
LONG_RUNNING_TIMER_INTERVAL = timedelta(days=3)
DEFAULT_HTTP_ASYNC_SLEEP_MS = 30000


def event_to_sdk(event: HistoryEvent, is_played: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "EventType": int(event.event_type),
        "EventId": event.event_id,
        "IsPlayed": is_played,
        "Timestamp": format_dotnet(event.timestamp),
    }
    for key, value in event.props.items():
        body[key] = format_dotnet(value) if isinstance(value, datetime) else value
    return body


def embedded_input(text: str | None) -> Any:
    """The stored input as the parsed JSON value the reference embeds (raw text if it is not JSON)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def build_context(state: OrchestrationRuntimeState) -> str:
    """The context JSON for one episode: the full history, new events marked as not yet played."""
    history = [event_to_sdk(e, True) for e in state.past_events]
    history += [event_to_sdk(e, False) for e in state.new_events]
    parent = state.parent_instance or {}
    parent_instance = (parent.get("OrchestrationInstance") or {}).get("InstanceId")
    context = {
        "history": history,
        "input": embedded_input(state.input),
        "instanceId": state.instance_id,
        "isReplaying": bool(state.past_events),
        "parentInstanceId": parent_instance,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
        "longRunningTimerIntervalDuration": format_timespan(LONG_RUNNING_TIMER_INTERVAL),
        "maximumShortTimerDuration": format_timespan(MAXIMUM_SHORT_TIMER),
        "defaultHttpAsyncRequestSleepTimeMillseconds": DEFAULT_HTTP_ASYNC_SLEEP_MS,
    }
    return json.dumps(context)


@dataclass
class OrchestratorState:
    """What the SDK's orchestrator returned (or attached to the exception it raised)."""

    is_done: bool
    actions: list[dict[str, Any]] = field(default_factory=list)
    output: Any = None
    has_output: bool = False
    error: str | None = None
    custom_status: Any = None
    schema_version: int = 0

    @classmethod
    def from_json(cls, text: str) -> OrchestratorState:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the orchestrator state is not a JSON object")
        raw_actions = data.get("actions") or []
        # V2/V3 send one flat inner list; V1 sends one inner list per yield. Both flatten to the order
        # in which the tasks were scheduled.
        actions = [action for group in raw_actions for action in (group or [])]
        return cls(
            is_done=bool(data.get("isDone")),
            actions=actions,
            output=data.get("output"),
            has_output="output" in data,
            error=data.get("error"),
            custom_status=data.get("customStatus"),
            schema_version=int(data.get("schemaVersion") or 0),
        )


def parse_failure(exc: BaseException) -> tuple[str, OrchestratorState | None]:
    """Split an exception raised by the SDK into its message and the state attached after the label."""
    text = str(exc.args[0]) if exc.args else str(exc)
    cut = text.rfind(OUT_OF_PROC_LABEL)
    if cut < 0:
        return text, None
    message, data = text[:cut], text[cut + len(OUT_OF_PROC_LABEL) :]
    try:
        return message, OrchestratorState.from_json(data)
    except ValueError:
        return message, None
