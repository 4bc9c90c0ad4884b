"""A message moved aside because it could not be processed, as clients see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class PoisonMessage:
    instance_id: str | None
    queue: str
    message_id: str
    reason: str
    dequeue_count: int
    moved_on: datetime | None
    body: str
