"""History events <-> History table rows (DurableTask.AzureStorage ``TableEntityConverter`` layout)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from azure.data.tables import EdmType, EntityProperty

from ..core.history import (
    DATETIME_PROPS,
    JSON_PROPS,
    STATUS_PROPS,
    EventType,
    HistoryEvent,
    OrchestrationStatus,
)
from .names import escape_key

SENTINEL_ROW_KEY = "sentinel"
_COMMON = {
    "PartitionKey",
    "RowKey",
    "Timestamp",
    "ExecutionId",
    "EventType",
    "EventId",
    "IsPlayed",
    "_Timestamp",
    "etag",
}


def row_key(sequence_number: int) -> str:
    return f"{sequence_number:016X}"


def _cell(key: str, value: Any) -> Any:
    if key in STATUS_PROPS and isinstance(value, int):
        return OrchestrationStatus(value).name
    if key in JSON_PROPS or isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool | datetime | str):
        return value
    if isinstance(value, int):
        return EntityProperty(value, EdmType.INT32) if -(2**31) <= value < 2**31 else value
    return value


def to_row(instance_id: str, execution_id: str, sequence_number: int, event: HistoryEvent) -> dict[str, Any]:
    row: dict[str, Any] = {
        "PartitionKey": escape_key(instance_id),
        "RowKey": row_key(sequence_number),
        "ExecutionId": execution_id,
        "EventType": event.event_type.name,
        "EventId": EntityProperty(event.event_id, EdmType.INT32),
        "IsPlayed": event.is_played,
        "_Timestamp": event.timestamp,
    }
    for key, value in event.props.items():
        if value is not None:
            row[key] = _cell(key, value)
    return row


def _value(key: str, value: Any) -> Any:
    if isinstance(value, EntityProperty):
        value = value.value
    if key in STATUS_PROPS and isinstance(value, str):
        return int(OrchestrationStatus[value])
    if key in JSON_PROPS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if key in DATETIME_PROPS and isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def from_row(row: dict[str, Any]) -> HistoryEvent:
    props = {key: _value(key, value) for key, value in row.items() if key not in _COMMON}
    timestamp = row.get("_Timestamp")
    if not isinstance(timestamp, datetime):
        timestamp = datetime(2000, 1, 1, tzinfo=UTC)
    return HistoryEvent(
        event_type=EventType[str(row["EventType"])],
        event_id=int(_value("EventId", row.get("EventId", -1))),
        timestamp=timestamp.astimezone(UTC),
        is_played=bool(row.get("IsPlayed", False)),
        props=props,
    )
