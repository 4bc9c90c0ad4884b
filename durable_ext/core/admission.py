"""Which of the messages taken for an episode it applies, and which are dropped.

The rules are the reference provider's (:mod:`.message_rules`), with what a store whose episode commit
is one atomic step knows for sure (the memory hub, a PostgreSQL transaction): a commit appends history
and sends its messages at once, so an answer never comes before what it answers and nothing has to
wait for a history that is late; and the instance's status is written before its start is queued.
Starts come first, then the other messages in arrival order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from .entities import is_entity_instance
from .history import EventType, HistoryEvent
from .message_rules import (
    APPLY,
    WARNING,
    Judgement,
    Verdict,
    drop,
    judge_current,
    judge_for_new_execution,
    judge_start,
    judge_start_against_status,
)
from .messages import TaskMessage
from .state import OrchestrationRuntimeState, OrchestrationState

log = logging.getLogger("durable_ext.messages")


class Waiting(Protocol):
    """A message taken for an episode, with whatever its store keeps beside it."""

    @property
    def message(self) -> TaskMessage: ...


W = TypeVar("W", bound=Waiting)


@dataclass
class Admission(Generic[W]):
    kept: list[W] = field(default_factory=list)
    waiting: list[W] = field(default_factory=list)
    """Messages put back for a later episode."""
    new_execution: bool = False
    """The episode starts a new execution over the history of a finished one."""


def admit(
    instance_id: str, history: list[HistoryEvent], status: OrchestrationState | None, taken: list[W]
) -> Admission[W]:
    """Sort ``taken`` by what the instance's ``history`` and stored ``status`` say of each message."""
    state = OrchestrationRuntimeState(past_events=history)
    starts = [m for m in taken if m.message.event_type == EventType.ExecutionStarted]
    others = [m for m in taken if m.message.event_type != EventType.ExecutionStarted]
    admission: Admission[W] = Admission()
    new_execution_id: str | None = None
    plan: list[tuple[W, Judgement]] = []
    for waiting in starts:
        if new_execution_id is None:
            judgement = _judge_start(waiting.message, instance_id, status, state)
        else:
            judgement = drop(f"Dropping a second start of instance '{instance_id}'")
        if judgement.verdict == Verdict.APPLY:
            new_execution_id = waiting.message.execution_id
            admission.new_execution = bool(history)
        plan.append((waiting, judgement))
    for waiting in others:
        if new_execution_id is not None:
            judgement = judge_for_new_execution(waiting.message, new_execution_id)
        else:
            judgement = _judge(waiting.message, state)
        plan.append((waiting, judgement))
    for waiting, judgement in plan:
        if judgement.verdict == Verdict.APPLY:
            admission.kept.append(waiting)
        elif judgement.verdict == Verdict.WAIT:
            admission.waiting.append(waiting)
        elif judgement.why:
            log.log(judgement.level, judgement.why)
    return admission


def _judge_start(
    message: TaskMessage,
    instance_id: str,
    status: OrchestrationState | None,
    state: OrchestrationRuntimeState,
) -> Judgement:
    if message.event.get("ParentInstance") is None:  # a client's start: its status says which one
        if status is None:
            return drop(f"Dropping the start of '{instance_id}': it was purged before it ran", WARNING)
        superseded = judge_start_against_status(message, status.execution_id, status.status.name, state)
        if superseded is not None:
            return superseded
    return judge_start(message, state)


def _judge(message: TaskMessage, state: OrchestrationRuntimeState) -> Judgement:
    if state.execution_started is None:
        if is_entity_instance(message.instance_id):
            return APPLY  # an entity starts with its first message
        return drop(f"Dropping {message.describe()}: no such instance", WARNING)
    return judge_current(message, state)
