"""Queue message bodies: DurableTask.AzureStorage ``MessageData`` JSON with ``$type`` annotations."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.history import (
    CLASS_NAMES,
    DATETIME_PROPS,
    EVENT_TYPES_BY_CLASS_NAME,
    EventType,
    HistoryEvent,
)
from ..core.messages import TaskMessage
from ..core.timefmt import format_dotnet, parse_datetime

_HISTORY_NS = "DurableTask.Core.History."
_INSTANCE_TYPE = "DurableTask.Core.OrchestrationInstance"
_TAGS_TYPE = (
    "System.Collections.Generic.Dictionary`2[[System.String, System.Private.CoreLib],"
    "[System.String, System.Private.CoreLib]]"
)
_sequence = itertools.count(1)


class MessageFormatError(ValueError):
    """A queue message body is not a DurableTask message."""


@dataclass
class DecodedMessage:
    message: TaskMessage | None
    """None when the body only points at a blob (``CompressedBlobName``) still to be downloaded."""
    compressed_blob_name: str | None
    sequence_number: int
    activity_id: str


def _instance(instance_id: str, execution_id: str | None) -> dict[str, Any]:
    return {"$type": _INSTANCE_TYPE, "InstanceId": instance_id, "ExecutionId": execution_id}


def _event_json(event: HistoryEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"$type": _HISTORY_NS + CLASS_NAMES[event.event_type]}
    for key, value in event.props.items():
        if isinstance(value, datetime):
            value = format_dotnet(value)
        elif key in ("OrchestrationInstance",) and isinstance(value, dict):
            value = {"$type": _INSTANCE_TYPE, **value}
        elif key == "Tags" and isinstance(value, dict):
            value = {"$type": _TAGS_TYPE, **value}
        body[key] = value
    body["EventType"] = int(event.event_type)
    body["EventId"] = event.event_id
    body["IsPlayed"] = event.is_played
    body["Timestamp"] = format_dotnet(event.timestamp)
    return body


def encode(message: TaskMessage) -> tuple[str, str, int]:
    """Return ``(activity_id, body, sequence_number)`` for a message."""
    activity_id = str(uuid.uuid4())
    sequence_number = next(_sequence)
    body = {
        "$type": "DurableTask.AzureStorage.MessageData",
        "ActivityId": activity_id,
        "TaskMessage": {
            "$type": "DurableTask.Core.TaskMessage",
            "Event": _event_json(message.event),
            "SequenceNumber": 0,
            "OrchestrationInstance": _instance(message.instance_id, message.execution_id),
        },
        "CompressedBlobName": None,
        "SequenceNumber": sequence_number,
        "Sender": {"InstanceId": message.sender_instance_id, "ExecutionId": message.sender_execution_id},
        "SerializableTraceContext": None,
    }
    if message.episode is not None:
        body["Episode"] = message.episode
    return activity_id, json.dumps(body, separators=(",", ":"), ensure_ascii=False), sequence_number


def encode_blob_pointer(blob_name: str) -> str:
    body = {
        "$type": "DurableTask.AzureStorage.MessageData",
        "ActivityId": str(uuid.uuid4()),
        "TaskMessage": None,
        "CompressedBlobName": blob_name,
        "SequenceNumber": next(_sequence),
        "Sender": {"InstanceId": "", "ExecutionId": ""},
        "SerializableTraceContext": None,
    }
    return json.dumps(body, separators=(",", ":"))


def _strip_types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_types(v) for k, v in value.items() if k != "$type"}
    if isinstance(value, list):
        return [_strip_types(v) for v in value]
    return value


def _decode_event(body: dict[str, Any]) -> HistoryEvent:
    type_name = str(body.get("$type", "")).rsplit(".", 1)[-1]
    if "EventType" in body:
        event_type = EventType(int(body["EventType"]))
    elif type_name in EVENT_TYPES_BY_CLASS_NAME:
        event_type = EVENT_TYPES_BY_CLASS_NAME[type_name]
    else:
        raise MessageFormatError(f"the event has no EventType and an unknown $type {type_name!r}")
    props: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("$type", "EventType", "EventId", "IsPlayed", "Timestamp"):
            continue
        if key in DATETIME_PROPS and isinstance(value, str):
            value = parse_datetime(value)
        props[key] = _strip_types(value)
    timestamp = body.get("Timestamp")
    return HistoryEvent(
        event_type,
        int(body.get("EventId", -1)),
        parse_datetime(timestamp) if timestamp else parse_datetime("2000-01-01T00:00:00Z"),
        bool(body.get("IsPlayed", False)),
        props,
    )


def decode(text: str) -> DecodedMessage:
    """Parse a queue message body (raw UTF-8 JSON, or Base64 of it).

    Anything that is not a DurableTask message raises :class:`MessageFormatError` saying why.
    """
    try:
        return _decode(text)
    except MessageFormatError:
        raise
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise MessageFormatError(
            f"the body is not a DurableTask message ({type(exc).__name__}: {exc})"
        ) from exc


def _decode(text: str) -> DecodedMessage:
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        try:
            stripped = base64.b64decode(stripped, validate=True).decode("utf-8")
        except ValueError as exc:
            raise MessageFormatError("the body is neither JSON nor Base64-encoded JSON") from exc
    try:
        body = json.loads(stripped)
    except ValueError as exc:
        raise MessageFormatError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MessageFormatError("the body is not a JSON object")
    activity_id = str(body.get("ActivityId") or "")
    sequence = int(body.get("SequenceNumber") or 0)
    blob = body.get("CompressedBlobName")
    task = body.get("TaskMessage")
    if not task:
        if blob:
            return DecodedMessage(None, str(blob), sequence, activity_id)
        raise MessageFormatError("the body has neither a TaskMessage nor a CompressedBlobName")
    instance = task.get("OrchestrationInstance") or {}
    sender = body.get("Sender") or {}
    message = TaskMessage(
        event=_decode_event(task["Event"]),
        instance_id=str(instance.get("InstanceId") or ""),
        execution_id=instance.get("ExecutionId") or None,
        sender_instance_id=str(sender.get("InstanceId") or ""),
        sender_execution_id=str(sender.get("ExecutionId") or ""),
        episode=body.get("Episode"),
    )
    return DecodedMessage(message, blob or None, sequence, activity_id)
