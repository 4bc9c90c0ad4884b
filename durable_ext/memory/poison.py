"""Poison messages of the in-memory task hub: moved aside, with why, instead of being retried forever."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime

from ..core.messages import TaskMessage
from ..core.poison import PoisonMessage
from .records import WaitingMessage

log = logging.getLogger("durable_ext.poison")

CONTROL_QUEUE = "control"
"""What the poison list names as the queue of orchestration and entity messages."""
WORK_ITEM_QUEUE = "workitems"
"""... and of activity messages."""
KEPT_IN = "the task hub's poison messages"
"""Where ``poison_reason`` says the message went."""


def message_body(message: TaskMessage) -> str:
    """The message as JSON, for a user to read (and send again)."""
    event = message.event
    body = {
        "instanceId": message.instance_id,
        "executionId": message.execution_id,
        "visibleAt": message.visible_at,
        "eventType": event.event_type.name,
        "eventId": event.event_id,
        "timestamp": event.timestamp,
        "props": event.props,
    }
    return json.dumps(body, default=str, separators=(",", ":"))


class PoisonList:
    def __init__(self) -> None:
        self.messages: list[PoisonMessage] = []

    def quarantine(
        self,
        waiting: Iterable[WaitingMessage],
        reason: str,
        instance_id: str | None,
        queue: str,
        now: datetime,
    ) -> None:
        for m in waiting:
            self.messages.append(
                PoisonMessage(
                    instance_id, queue, str(m.sequence), reason, m.dequeue_count, now, message_body(m.message)
                )
            )
            where = f" (instance '{instance_id}')" if instance_id else ""
            log.error("Moved poison message %s of '%s'%s aside: %s", m.sequence, queue, where, reason)

    def of(self, instance_id: str | None = None) -> list[PoisonMessage]:
        return [m for m in self.messages if instance_id is None or m.instance_id == instance_id]
