"""What the in-memory task hub keeps per instance, and the messages waiting in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..core.entities import is_entity_instance
from ..core.history import EventType, HistoryEvent
from ..core.messages import TaskMessage
from ..core.state import OrchestrationState


@dataclass(eq=False)
class WaitingMessage:
    """A message in an instance's inbox or the activity queue, in arrival order (``sequence``)."""

    sequence: int
    message: TaskMessage
    dequeue_count: int = 0
    """How often it was handed out in a work item (the first delivery makes it 1)."""
    gone: bool = False
    """Taken, dropped or purged: no longer waiting anywhere."""

    def visible(self, now: datetime) -> bool:
        due = self.message.visible_at
        return due is None or due <= now

    @property
    def is_start(self) -> bool:
        return self.message.event_type == EventType.ExecutionStarted


@dataclass(eq=False)
class InstanceRecord:
    """One instance: its status (``None`` until something wrote one), the current execution's history
    and the messages waiting for it."""

    instance_id: str
    state: OrchestrationState | None = None
    history: list[HistoryEvent] = field(default_factory=list)
    inbox: list[WaitingMessage] = field(default_factory=list)
    locked: bool = False
    """An episode of the instance is running: messages arriving meanwhile wait for the next one."""
    version: int = 0
    """Grows when a purge or a rewind changes the instance under a running episode."""
    last_error: BaseException | None = None
    """What the last failed episode raised."""

    def has_work(self, now: datetime) -> bool:
        """Some visible message can be handed out (or dropped) now.

        Messages for an instance whose start is scheduled for later wait for that start; messages for
        an instance that has neither a history nor a start (nor is an entity) are runnable, to be
        dropped.
        """
        visible = [m for m in self.inbox if m.visible(now)]
        if not visible:
            return False
        if self.history or is_entity_instance(self.instance_id) or any(m.is_start for m in visible):
            return True
        return not any(m.is_start for m in self.inbox)

    def take_visible(self, now: datetime) -> list[WaitingMessage]:
        """Remove and return the visible messages, in arrival order, each delivered once more."""
        taken = [m for m in self.inbox if m.visible(now)]
        self.inbox = [m for m in self.inbox if not m.visible(now)]
        for m in taken:
            m.dequeue_count += 1
            m.gone = True
        return taken

    def put_back(self, messages: list[WaitingMessage]) -> None:
        for m in messages:
            m.gone = False
        self.inbox = sorted([*self.inbox, *messages], key=lambda m: m.sequence)

    @property
    def empty(self) -> bool:
        return self.state is None and not self.history and not self.inbox and not self.locked


@dataclass(eq=False)
class OrchestrationLease:
    """A handed-out orchestration work item: the instance it locks and the messages it took."""

    record: InstanceRecord
    version: int
    messages: list[WaitingMessage]
