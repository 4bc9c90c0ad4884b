"""Recorded histories as JSON: one object per orchestration instance, written by ``export-history``.

    {"format": "durable-ext/history", "formatVersion": 1, "instanceId": "...", "name": "...",
     "runtimeStatus": "Completed", "input": "<stored JSON text>", "output": "...",
     "history": [{"EventType": "TaskScheduled", "EventId": 0, "Timestamp": "...", "IsPlayed": false,
                  "props": {"Name": "charge_card", "Input": "[...]"}}, ...]}

The form round-trips to :class:`HistoryEvent` exactly: event types by name, date-times (the timestamp and
the date-time props such as ``FireAt``) as ISO 8601 text with microseconds, every other prop as it is
held in memory (enums as integers, JSON props as objects).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .history import DATETIME_PROPS, EventType, HistoryEvent
from .state import OrchestrationRuntimeState, OrchestrationState
from .timefmt import parse_datetime

FORMAT = "durable-ext/history"
FORMAT_VERSION = 1
FILE_SUFFIX = ".json"
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


class HistoryFormatError(ValueError):
    """A history object does not have the exported form; the message says which part."""


# ---- events -----------------------------------------------------------------------------------------
def format_time(value: datetime, timespec: str = "microseconds") -> str:
    """ISO 8601 in UTC with a ``Z``; microseconds (exact) unless ``timespec`` says otherwise."""
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def event_to_json(event: HistoryEvent) -> dict[str, Any]:
    props = {key: format_time(v) if isinstance(v, datetime) else v for key, v in event.props.items()}
    return {
        "EventType": event.event_type.name,
        "EventId": event.event_id,
        "Timestamp": format_time(event.timestamp),
        "IsPlayed": event.is_played,
        "props": props,
    }


def event_from_json(data: Any) -> HistoryEvent:
    if not isinstance(data, Mapping):
        raise HistoryFormatError(f"an event must be a JSON object, not {json.dumps(data)[:80]}")
    try:
        event_type = EventType[str(data["EventType"])]
        event_id = int(data.get("EventId", -1))
        timestamp = parse_datetime(str(data["Timestamp"]))
        props = dict(data.get("props") or {})
    except KeyError as exc:
        raise HistoryFormatError(f"an event has no {exc} (or an unknown EventType)") from exc
    except (TypeError, ValueError) as exc:
        raise HistoryFormatError(f"an event has a bad field: {exc}") from exc
    for key in DATETIME_PROPS & props.keys():
        if isinstance(props[key], str):
            props[key] = parse_datetime(props[key])
    return HistoryEvent(event_type, event_id, timestamp, bool(data.get("IsPlayed", False)), props)


# ---- instances --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecordedHistory:
    """One orchestration instance: what its status row said and the events of its current execution."""

    instance_id: str
    name: str
    runtime_status: str
    events: list[HistoryEvent] = field(default_factory=list)
    input: str | None = None
    output: str | None = None
    execution_id: str | None = None
    created_time: datetime | None = None
    last_updated_time: datetime | None = None

    @classmethod
    def of(cls, state: OrchestrationState, events: list[HistoryEvent]) -> RecordedHistory:
        return cls(
            state.instance_id,
            state.name,
            state.status.name,
            list(events),
            state.input,
            state.output,
            state.execution_id,
            state.created_time,
            state.last_updated_time,
        )

    @classmethod
    def from_events(cls, events: list[HistoryEvent]) -> RecordedHistory:
        """A history given as its events alone: the id, name and input are read from its start."""
        started = next((e for e in events if e.event_type == EventType.ExecutionStarted), None)
        instance = (started.get("OrchestrationInstance") or {}) if started is not None else {}
        return cls(
            str(instance.get("InstanceId") or ""),
            (started.name if started is not None else None) or "",
            _status_of(events),
            list(events),
            started.input if started is not None else None,
            execution_id=instance.get("ExecutionId"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "formatVersion": FORMAT_VERSION,
            "instanceId": self.instance_id,
            "executionId": self.execution_id,
            "name": self.name,
            "runtimeStatus": self.runtime_status,
            "createdTime": _optional_time(self.created_time),
            "lastUpdatedTime": _optional_time(self.last_updated_time),
            "input": self.input,
            "output": self.output,
            "history": [event_to_json(e) for e in self.events],
        }

    @classmethod
    def from_json(cls, data: Any) -> RecordedHistory:
        if not isinstance(data, Mapping):
            raise HistoryFormatError("an exported history must be a JSON object")
        version = data.get("formatVersion")
        if data.get("format") != FORMAT or not isinstance(version, int):
            raise HistoryFormatError(
                f'it is not an exported history (no "format": "{FORMAT}" with a formatVersion)'
            )
        if version > FORMAT_VERSION:
            raise HistoryFormatError(
                f"its formatVersion is {version}; this durable-ext reads version {FORMAT_VERSION} and older. "
                "Upgrade durable-ext"
            )
        events = data.get("history")
        if not isinstance(events, list):
            raise HistoryFormatError('its "history" must be a list of events')
        created, updated = data.get("createdTime"), data.get("lastUpdatedTime")
        return cls(
            str(data.get("instanceId") or ""),
            str(data.get("name") or ""),
            str(data.get("runtimeStatus") or ""),
            [event_from_json(e) for e in events],
            data.get("input"),
            data.get("output"),
            data.get("executionId"),
            parse_datetime(created) if isinstance(created, str) else None,
            parse_datetime(updated) if isinstance(updated, str) else None,
        )


def _status_of(events: list[HistoryEvent]) -> str:
    return OrchestrationRuntimeState(past_events=list(events)).status.name


def _optional_time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


# ---- files ------------------------------------------------------------------------------------------
def file_name(instance_id: str) -> str:
    """A file name for the instance: its id where that is safe, else a cleaned id and a short hash."""
    safe = _UNSAFE_FILE_CHARS.sub("_", instance_id) or "instance"
    if safe != instance_id or safe.startswith("."):
        safe = f"{safe.lstrip('.')}-{hashlib.sha256(instance_id.encode()).hexdigest()[:8]}"
    return safe + FILE_SUFFIX


def write_history_file(history: RecordedHistory, folder: Path) -> Path:
    path = folder / file_name(history.instance_id)
    path.write_text(json.dumps(history.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_history_file(path: Path) -> list[RecordedHistory]:
    """The histories in one file: an exported object, or a list of them."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"The history file '{path}' does not exist. Check the path.") from exc
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the history file '{path}': {exc.strerror}.") from exc
    except ValueError as exc:
        raise ConfigurationError(
            f"The history file '{path}' is not valid JSON ({exc}). Export it again with "
            "`durable-ext durable export-history`."
        ) from exc
    try:
        items = data if isinstance(data, list) else [data]
        return [RecordedHistory.from_json(item) for item in items]
    except HistoryFormatError as exc:
        raise ConfigurationError(
            f"The history file '{path}' cannot be read: {exc}. Export it again with "
            "`durable-ext durable export-history`."
        ) from exc


def history_files(folder: Path) -> list[Path]:
    """The ``*.json`` files of an export folder, in name order."""
    if not folder.is_dir():
        raise ConfigurationError(f"The history folder '{folder}' does not exist. Check the path.")
    return sorted(p for p in folder.iterdir() if p.suffix == FILE_SUFFIX and p.is_file())
