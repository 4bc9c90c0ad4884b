"""A message moved aside because it could not be processed, as clients see it, and why it was."""

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


def poison_reason(
    dequeue_count: int, what: str, last_error: str | None = None, *, kept_in: str = "the poison table"
) -> str:
    """What the instance's status says when a poison message fails it (``kept_in``: where it went)."""
    reason = (
        f"durable-ext moved a message for this instance to {kept_in} after it was delivered "
        f"{dequeue_count} times and {what}"
    )
    if last_error:
        reason += f" (last error: {last_error})"
    return reason + ". The message is kept there; the instance is failed so that it does not retry forever."
