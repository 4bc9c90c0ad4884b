"""Durable entities as the reference host keeps them: ids, request messages and the scheduler state.

An entity is an instance whose id is ``@{name}@{key}`` (name lower-cased). Requests reach it as
``EventRaised`` events named ``op`` (or ``op@<due time>`` when scheduled) whose input is a
:class:`RequestMessage` in JSON. Between batches the entity's state, its queue of waiting requests and
its message-ordering metadata live in a :class:`SchedulerState`, which is the input of the entity's
current execution: every batch ends with a continue-as-new carrying the new scheduler state.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import InvalidEntityIdError
from .timefmt import format_dotnet, parse_datetime

REQUEST_EVENT = "op"
RELEASE_EVENT = "release"
CONTINUE_EVENT = "continue"
_DEFAULT_DATETIME = "0001-01-01T00:00:00"


def scheduled_request_event(due: datetime) -> str:
    return f"{REQUEST_EVENT}@{format_dotnet(due)}"


def is_request_event(name: str | None) -> bool:
    return bool(name) and str(name).startswith(REQUEST_EVENT)


def lock_member_id(member: Any) -> str:
    """An entity of a lock set as an instance id: the engine keeps ids, .NET writers name/key objects."""
    if isinstance(member, dict):
        return f"@{str(member.get('name', '')).lower()}@{member.get('key', '')}"
    return str(member)


def is_entity_instance(instance_id: str | None) -> bool:
    return bool(instance_id) and str(instance_id).startswith("@")


@dataclass(frozen=True)
class EntityId:
    name: str
    key: str

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidEntityIdError("the entity name is empty")
        if "@" in self.name or "/" in self.name:
            raise InvalidEntityIdError(f"the entity name '{self.name}' must not contain '@' or '/'")
        if self.key is None or self.key == "":
            raise InvalidEntityIdError(f"the key of entity '{self.name}' is empty")

    @classmethod
    def of(cls, name: str, key: str) -> EntityId:
        """An id as the reference builds it: the name lower-cased."""
        return cls(name.lower(), key)

    @property
    def instance_id(self) -> str:
        return f"@{self.name.lower()}@{self.key}"

    @classmethod
    def parse(cls, instance_id: str) -> EntityId:
        """``@name@key``; the key may itself contain ``@``."""
        end = instance_id.find("@", 1)
        if not instance_id.startswith("@") or end < 0:
            raise InvalidEntityIdError(f"'{instance_id}' is not an entity instance id ('@name@key')")
        return cls(instance_id[1:end], instance_id[end + 1 :])

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "key": self.key}


@dataclass
class RequestMessage:
    """An operation sent to an entity (``RequestMessage`` of the reference, same JSON names)."""

    operation: str | None
    id: str
    is_signal: bool = False
    input: str | None = None
    parent_instance_id: str | None = None
    parent_execution_id: str | None = None
    scheduled_time: datetime | None = None
    timestamp: datetime | None = None
    predecessor: datetime | None = None
    checkpoint: datetime | None = None
    """When the sender sends it: the timestamp of its last request to this entity that its committed
    history records (``None``: none yet). Only this host's senders set it; see ``MessageSorter``."""
    tracked: bool = False
    """The request carries a ``Checkpoint`` (even an empty one): its sender lets the entity drop resends."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields this host does not interpret (lock sets, trace context), kept as they came."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.operation}
        if self.is_signal:
            data["signal"] = True
        if self.input is not None:
            data["input"] = self.input
        data["id"] = self.id
        if self.parent_instance_id is not None:
            data["parent"] = self.parent_instance_id
        if self.parent_execution_id is not None:
            data["parentExecution"] = self.parent_execution_id
        if self.scheduled_time is not None:
            data["due"] = format_dotnet(self.scheduled_time)
        data["Timestamp"] = _format_optional(self.timestamp)
        data["Predecessor"] = _format_optional(self.predecessor)
        if self.tracked:
            data["Checkpoint"] = _format_optional(self.checkpoint)
        data.update(self.extra)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestMessage:
        known = {
            "op",
            "signal",
            "input",
            "id",
            "parent",
            "parentExecution",
            "due",
            "Timestamp",
            "Predecessor",
            "Checkpoint",
        }
        return cls(
            operation=data.get("op"),
            id=str(data.get("id") or uuid.uuid4()),
            is_signal=bool(data.get("signal")),
            input=data.get("input"),
            parent_instance_id=data.get("parent"),
            parent_execution_id=data.get("parentExecution"),
            scheduled_time=_parse_optional(data.get("due")),
            timestamp=_parse_optional(data.get("Timestamp")),
            predecessor=_parse_optional(data.get("Predecessor")),
            checkpoint=_parse_optional(data.get("Checkpoint")),
            tracked="Checkpoint" in data,
            extra={k: v for k, v in data.items() if k not in known},
        )

    @classmethod
    def from_json(cls, text: str | None) -> RequestMessage:
        data = json.loads(text or "")
        if not isinstance(data, dict):
            raise ValueError("an entity request must be a JSON object")
        return cls.from_dict(data)

    @property
    def is_lock_request(self) -> bool:
        return "lockset" in self.extra


@dataclass
class SchedulerState:
    """What an entity carries from one batch to the next (``SchedulerState``, same JSON names)."""

    exists: bool = False
    state: str | None = None
    queue: list[RequestMessage] = field(default_factory=list)
    locked_by: str | None = None
    suspended: bool = False
    sorter: dict[str, Any] = field(default_factory=dict)
    last_failure: dict[str, Any] | None = None
    """durable-ext's own: the last operation that failed (``operation``, ``error``, ``time``)."""

    @property
    def is_empty(self) -> bool:
        return not self.exists and not self.queue and self.locked_by is None

    def to_json(self) -> str:
        data: dict[str, Any] = {}
        if self.exists:
            data["exists"] = True
        if self.state is not None:
            data["state"] = self.state
        if self.queue:
            data["queue"] = [m.to_dict() for m in self.queue]
        if self.locked_by is not None:
            data["lockedBy"] = self.locked_by
        if self.suspended:
            data["suspended"] = True
        data["sorter"] = self.sorter
        if self.last_failure is not None:
            data["lastFailure"] = self.last_failure
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> SchedulerState:
        """The state stored as an execution's input; ``None`` (a new entity) gives an empty state."""
        if text is None:
            return cls()
        data = json.loads(text)
        if isinstance(data, str):  # stored as a JSON string of the JSON, as some writers do
            data = json.loads(data)
        if not isinstance(data, dict):
            raise ValueError("the entity scheduler state must be a JSON object")
        return cls(
            exists=bool(data.get("exists")),
            state=data.get("state"),
            queue=[RequestMessage.from_dict(m) for m in data.get("queue") or []],
            locked_by=data.get("lockedBy"),
            suspended=bool(data.get("suspended")),
            sorter=dict(data.get("sorter") or {}),
            last_failure=data.get("lastFailure"),
        )


def _format_optional(value: datetime | None) -> str:
    return _DEFAULT_DATETIME if value is None else format_dotnet(value)


def _parse_optional(value: Any) -> datetime | None:
    if not value or str(value).startswith("0001-01-01"):
        return None
    return parse_datetime(str(value))
