"""Which of the messages taken for an episode it applies, and which are dropped.

The rules are the reference provider's (:mod:`durable_ext.core.message_rules`), with what an in-memory
hub knows for sure: a commit appends history and sends its messages at once, so an answer never comes
before what it answers and nothing has to wait for a history that is late; and the instance's status is
written before its start is queued. Starts come first, then the other messages in arrival order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..core.entities import is_entity_instance
from ..core.history import EventType
from ..core.message_rules import (
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
from ..core.messages import TaskMessage
from ..core.state import OrchestrationRuntimeState
from .records import InstanceRecord, WaitingMessage

log = logging.getLogger("durable_ext.messages")


@dataclass
class Admission:
    kept: list[WaitingMessage] = field(default_factory=list)
    waiting: list[WaitingMessage] = field(default_factory=list)
    """Messages put back for a later episode."""
    new_execution: bool = False
    """The episode starts a new execution over the history of a finished one."""


def admit(record: InstanceRecord, taken: list[WaitingMessage]) -> Admission:
    state = OrchestrationRuntimeState(past_events=record.history)
    starts = [m for m in taken if m.message.event_type == EventType.ExecutionStarted]
    others = [m for m in taken if m.message.event_type != EventType.ExecutionStarted]
    admission = Admission()
    new_execution_id: str | None = None
    plan: list[tuple[WaitingMessage, Judgement]] = []
    for waiting in starts:
        if new_execution_id is None:
            judgement = _judge_start(waiting.message, record, state)
        else:
            judgement = drop(f"Dropping a second start of instance '{record.instance_id}'")
        if judgement.verdict == Verdict.APPLY:
            new_execution_id = waiting.message.execution_id
            admission.new_execution = bool(record.history)
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


def _judge_start(message: TaskMessage, record: InstanceRecord, state: OrchestrationRuntimeState) -> Judgement:
    if message.event.get("ParentInstance") is None:  # a client's start: its status says which one
        status = record.state
        if status is None:
            return drop(f"Dropping the start of '{record.instance_id}': it was purged before it ran", WARNING)
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
