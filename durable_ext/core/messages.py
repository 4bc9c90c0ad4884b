"""Messages between orchestrations, activities and clients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .history import EventType, HistoryEvent


@dataclass
class TaskMessage:
    """An event addressed to one orchestration instance (or to the activity worker).

    ``execution_id`` is ``None`` for client messages meant for whatever execution is current.
    ``visible_at`` delays delivery (durable timers, scheduled starts).
    """

    event: HistoryEvent
    instance_id: str
    execution_id: str | None = None
    visible_at: datetime | None = None
    sender_instance_id: str = ""
    sender_execution_id: str = ""
    episode: int | None = None

    @property
    def event_type(self) -> EventType:
        return self.event.event_type

    def describe(self) -> str:
        return f"{self.event.event_type.name} for instance '{self.instance_id}'"
