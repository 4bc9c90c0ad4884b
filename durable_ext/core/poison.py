"""A message moved aside because it could not be processed, as clients see it, and why it was."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from .entities import is_entity_instance


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


class PoisonAction(Enum):
    """What a provider does with an instance whose messages keep failing."""

    MOVE_POISON = "move the poison messages aside and run the rest"  # entities: never failed
    FAIL = "fail the instance without running its code"
    FAIL_AND_MOVE_ALL = "mark the instance failed directly and move every message aside"


@dataclass(frozen=True)
class PoisonVerdict:
    action: PoisonAction
    reason: str
    threshold: int

    def is_poison(self, dequeue_count: int) -> bool:
        """Whether a message with this delivery count is moved aside under ``MOVE_POISON``."""
        return dequeue_count > self.threshold


def judge_poison(
    instance_id: str,
    dequeue_counts: Sequence[int],
    threshold: int,
    last_error: str | None,
    *,
    kept_in: str = "the poison table",
) -> PoisonVerdict | None:
    """The one poison rule every provider follows; ``None`` when the messages are run normally.

    Past ``threshold`` deliveries an orchestration is failed with a reason (its code is not run); past
    twice the threshold even failing it is taken to have failed, so it is marked failed directly and its
    messages are moved aside. An entity is never failed: only its poison messages are moved aside.
    Storage outages are the caller's to exclude: they are waited out, never poison.
    """
    worst = max(dequeue_counts, default=0)
    if worst <= threshold:
        return None
    if is_entity_instance(instance_id):
        what = "the entity's batches with it failed every time"
        reason = poison_reason(worst, what, last_error, kept_in=kept_in)
        return PoisonVerdict(PoisonAction.MOVE_POISON, reason, threshold)
    reason = poison_reason(worst, "its episode failed every time", last_error, kept_in=kept_in)
    action = PoisonAction.FAIL_AND_MOVE_ALL if worst > 2 * threshold else PoisonAction.FAIL
    return PoisonVerdict(action, reason, threshold)
