"""Which of an instance's messages an episode applies, which wait, and which are dropped: the rules
every provider shares (the reference provider's). Each provider adds its own around them: how it knows
the instance's status, how long a message may wait for what it answers.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from .history import EventType
from .messages import TaskMessage
from .state import OrchestrationRuntimeState

WARNING = logging.WARNING


class Verdict(enum.Enum):
    APPLY = "apply"
    WAIT = "wait"
    DROP = "drop"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    why: str = ""
    """For a drop: the log line saying why."""
    level: int = logging.INFO


APPLY = Judgement(Verdict.APPLY)
WAIT = Judgement(Verdict.WAIT)


def drop(why: str, level: int = logging.INFO) -> Judgement:
    return Judgement(Verdict.DROP, why, level)


RESPONSES = {
    EventType.TaskCompleted: "TaskScheduledId",
    EventType.TaskFailed: "TaskScheduledId",
    EventType.SubOrchestrationInstanceCompleted: "TaskScheduledId",
    EventType.SubOrchestrationInstanceFailed: "TaskScheduledId",
    EventType.TimerFired: "TimerId",
}
"""The messages that answer a task or timer, and the prop naming it."""


def judge_start_against_status(
    message: TaskMessage,
    status_execution_id: str | None,
    status_name: str | None,
    state: OrchestrationRuntimeState,
) -> Judgement | None:
    """A top-level start against the instance's status (what the client wrote when it started it):
    a drop when a later start replaced it or the instance was terminated before it ran, else ``None``."""
    instance = message.instance_id
    if status_execution_id not in (None, message.execution_id):
        return drop(f"Dropping a superseded start of instance '{instance}'")
    if status_name == "Terminated" and state.execution_id != message.execution_id:
        return drop(f"Dropping the start of '{instance}': it was terminated before it ran")
    return None


def judge_start(message: TaskMessage, state: OrchestrationRuntimeState) -> Judgement:
    """A start against the instance's history: applied to a new or finished instance only, once."""
    instance = message.instance_id
    if state.execution_started is not None and starts_the_same(message, state):
        return drop(f"Dropping a duplicate start of instance '{instance}'")
    if state.execution_started is None or state.status.is_terminal:
        return APPLY
    return drop(f"Dropping a start of instance '{instance}': it is already {state.status.name}", WARNING)


def judge_current(message: TaskMessage, state: OrchestrationRuntimeState) -> Judgement:
    """A message for a started instance: dropped when it is for another execution or the instance is
    finished."""
    if message.execution_id not in (None, state.execution_id):
        return drop(f"Dropping {message.describe()}: it belongs to an older execution")
    if state.status.is_terminal:
        return drop(f"Dropping {message.describe()}: the instance is {state.status.name}")
    return APPLY


def judge_for_new_execution(message: TaskMessage, execution_id: str | None) -> Judgement:
    """A message that came with the start of a new execution: it may only be for that execution and
    cannot answer anything (the new execution has scheduled nothing yet)."""
    if message.execution_id not in (None, execution_id):
        return drop("")
    if message.event_type in RESPONSES:
        return drop(f"Dropping {message.describe()}: it answers nothing the new execution scheduled")
    return APPLY


def starts_the_same(message: TaskMessage, state: OrchestrationRuntimeState) -> bool:
    """The start was applied already: it names the current execution, or it comes from the same task of
    the same parent as the current execution did (a child that continued as new has another id)."""
    if message.execution_id == state.execution_id:
        return True
    parent, current = message.event.get("ParentInstance"), state.parent_instance
    if not parent or not current:
        return False
    return _parent_task(parent) == _parent_task(current)


def _parent_task(parent: dict[str, Any]) -> tuple[str, str, int]:
    instance = parent.get("OrchestrationInstance") or {}
    task_id = int(parent.get("TaskScheduleId", -1))
    return str(instance.get("InstanceId")), str(instance.get("ExecutionId")), task_id
