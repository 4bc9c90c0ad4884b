"""Replays an orchestration's history and turns what it schedules into new events and messages.

This is the host half of DurableTask.Core's orchestration executor: the orchestration *program* (for the
Python SDK, the shim that walks the SDK's action list) calls :class:`ReplayContext` to schedule work.
Every scheduling call takes the next sequence id. History events are processed in order: a scheduling
event must match the call with the same id (else the code is not deterministic), a completion completes
the task with that id, and whatever awaited it runs on at once. Calls left unmatched at the end are the
episode's new work.

A difference is a :class:`~.divergence.Divergence`. At run time another task or a missing one raises
:class:`NonDeterminismError` and a moved timer is only a warning (apps may compute fire times from the
wall clock). Replaying a recorded history ``strict``-ly, as the replay tool does, every difference
raises: a moved timer, a task the code schedules that the committed history lacks at its end, and an
ending other than the recorded one.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import NonDeterminismError
from .divergence import (
    Divergence,
    different_completion,
    different_task,
    different_timer,
    label,
    missing_task,
    new_task,
    recorded_status,
    same_task,
)
from .entities import REQUEST_EVENT, RequestMessage
from .history import SCHEDULING_EVENTS, EventType, HistoryEvent, OrchestrationStatus, utc_now
from .ids import entity_request_id
from .message_sorter import label_outgoing
from .state import OrchestrationRuntimeState
from .tasks import Fiber, Program, ReplayTask, TaskFailure


@dataclass
class Command:
    """Work scheduled by the orchestration: the history event that records it."""

    event: HistoryEvent
    target_execution_id: str | None = None
    """For an ``EventSent``: the execution the event is for (entity responses go to their caller's)."""
    visible_at: datetime | None = None
    """For an ``EventSent``: when the event may be delivered (scheduled entity requests)."""

    @property
    def id(self) -> int:
        return self.event.event_id

    def describe(self) -> str:
        return label(self.event)


@dataclass
class Completion:
    """How this execution ends: completed, failed, or continued as new."""

    status: OrchestrationStatus
    result: str | None = None
    details: str | None = None
    continue_input: str | None = None
    carry_over_events: list[HistoryEvent] = field(default_factory=list)
    failure_details: dict[str, Any] | None = None
    """DurableTask's ``FailureDetails`` of a failure reported with them (the gRPC protocol's)."""


@dataclass
class ReplayOutcome:
    new_commands: list[Command]
    completion: Completion | None
    custom_status: str | None = None
    user_code_ran: bool = True
    """False when the episode only recorded events (terminated or suspended): the custom status stands."""
    unconsumed_events: list[HistoryEvent] = field(default_factory=list)
    """Events raised that nothing waited for: carried over to the next execution on continue-as-new."""
    warnings: list[Divergence] = field(default_factory=list)
    """Differences from the history that do not fail the instance at run time (a moved timer)."""


# Which completion event closes which kind of scheduled task, and the prop naming the task id.
_COMPLETIONS: dict[EventType, tuple[str, bool]] = {
    EventType.TaskCompleted: ("TaskScheduledId", True),
    EventType.TaskFailed: ("TaskScheduledId", False),
    EventType.SubOrchestrationInstanceCompleted: ("TaskScheduledId", True),
    EventType.SubOrchestrationInstanceFailed: ("TaskScheduledId", False),
    EventType.TimerFired: ("TimerId", True),
}


class ReplayContext:
    """What an orchestration program may do. Mirrors DurableTask.Core's orchestration context."""

    def __init__(self, instance_id: str, execution_id: str, *, strict: bool = False) -> None:
        self.instance_id = instance_id
        self.execution_id = execution_id
        self.strict = strict
        """Check a recorded history as the replay tool does: every difference raises."""
        self.warnings: list[Divergence] = []
        self.event_index = -1
        """The index of the history event being applied (named by a divergence)."""
        self._suspended = False
        self._terminated = False
        self._finished = False
        self.current_utc_datetime: datetime = utc_now()
        self.is_replaying = True
        self._next_id = 0
        self._pending: dict[int, Command] = {}
        self._open: dict[int, ReplayTask] = {}
        self._event_waiters: dict[str, deque[ReplayTask]] = {}
        self._buffered_events: dict[str, deque[HistoryEvent]] = {}
        self._entity_clocks: dict[str, datetime] = {}
        self._entity_clocks_committed: dict[str, datetime] = {}
        """Per entity: the timestamp of the last request to it that the committed history records."""
        self.completion: Completion | None = None

    # ---- scheduling -------------------------------------------------------------------------
    def _schedule(self, event_type: EventType, props: dict[str, Any], awaitable: bool = True) -> ReplayTask:
        task_id = self._next_id
        self._next_id += 1
        self._pending[task_id] = Command(HistoryEvent(event_type, task_id, utc_now(), False, props))
        task = ReplayTask()
        if awaitable:
            self._open[task_id] = task
        else:
            task.complete(None)
        return task

    def schedule_activity(self, name: str, input_json: str | None) -> ReplayTask:
        return self._schedule(EventType.TaskScheduled, {"Name": name, "Version": "", "Input": input_json})

    def create_timer(self, fire_at: datetime) -> ReplayTask:
        return self._schedule(EventType.TimerCreated, {"FireAt": fire_at})

    def create_sub_orchestration(
        self, name: str, instance_id: str | None, input_json: str | None
    ) -> ReplayTask:
        child_id = instance_id or f"{self.execution_id}:{self._next_id}"
        props = {"Name": name, "Version": "", "InstanceId": child_id, "Input": input_json}
        return self._schedule(EventType.SubOrchestrationInstanceCreated, props)

    def send_event(self, instance_id: str, name: str, input_json: str | None) -> None:
        props = {"InstanceId": instance_id, "Name": name, "Input": input_json}
        self._schedule(EventType.EventSent, props, awaitable=False)

    def send_entity_request(
        self, entity_instance_id: str, operation: str, input_json: str | None, *, signal: bool
    ) -> ReplayTask:
        """Send an operation to an entity; for a call, a task completed by the entity's response."""
        request_id = entity_request_id(self.instance_id, self.execution_id, self._next_id)
        request = RequestMessage(
            operation,
            request_id,
            is_signal=signal,
            input=input_json,
            parent_instance_id=self.instance_id,
            parent_execution_id=self.execution_id,
        )
        target = entity_instance_id.lower()
        committed = self._entity_clocks_committed.get(target)
        sent = label_outgoing(request, self.current_utc_datetime, self._entity_clocks.get(target), committed)
        self._entity_clocks[target] = sent
        if self.is_replaying:  # sent by an episode whose history is committed
            self._entity_clocks_committed[target] = sent
        self.send_event(entity_instance_id, REQUEST_EVENT, request.to_json())
        if signal:
            done = ReplayTask()
            done.complete(None)
            return done
        return self.wait_for_event(request_id)

    def wait_for_event(self, name: str) -> ReplayTask:
        """A task completed by the next ``EventRaised`` with this name (case-insensitive)."""
        task = ReplayTask()
        buffered = self._buffered_events.get(name.lower())
        if buffered:
            task.complete(buffered.popleft().input)
        else:
            self._event_waiters.setdefault(name.lower(), deque()).append(task)
        return task

    def _raise_event(self, event: HistoryEvent) -> None:
        key = (event.name or "").lower()
        waiters = self._event_waiters.get(key)
        if waiters:
            waiters.popleft().complete(event.input)
        else:
            self._buffered_events.setdefault(key, deque()).append(event)

    def spawn(self, program: Program) -> ReplayTask:
        return Fiber(program).start()

    # ---- ending -------------------------------------------------------------------------------
    def complete(self, result_json: str | None) -> None:
        self.completion = self.completion or Completion(OrchestrationStatus.Completed, result_json)

    def fail(self, reason: str, details: str | None = None) -> None:
        self.completion = self.completion or Completion(OrchestrationStatus.Failed, reason, details)

    def continue_as_new(self, input_json: str | None) -> None:
        self.completion = self.completion or Completion(
            OrchestrationStatus.ContinuedAsNew, input_json, continue_input=input_json
        )

    # ---- replay -------------------------------------------------------------------------------
    def apply(self, event: HistoryEvent) -> None:
        """Process one history event."""
        kind = event.event_type
        if kind == EventType.OrchestratorStarted:
            self.current_utc_datetime = event.timestamp
        elif event.event_id >= 0 and kind in SCHEDULING_EVENTS:
            self._match_scheduled(event)
        elif kind in _COMPLETIONS:
            self._complete_task(event)
        elif kind == EventType.EventRaised:
            self._raise_event(event)
        elif kind in (EventType.ExecutionSuspended, EventType.ExecutionResumed):
            self._suspended = kind == EventType.ExecutionSuspended
        elif kind == EventType.ExecutionTerminated:
            self._terminated = True
        elif self.strict and kind == EventType.ExecutionCompleted:
            self._check_ending(event)

    def _match_scheduled(self, event: HistoryEvent) -> None:
        command = self._pending.pop(event.event_id, None)
        if command is None:
            ending = None if self.completion is None else self.completion.status
            raise NonDeterminismError(missing_task(self.event_index, event, ending))
        if not same_task(event, command.event):
            raise NonDeterminismError(different_task(self.event_index, event, command.event))
        if event.event_type == EventType.TimerCreated:
            moved = different_timer(self.event_index, event, command.event)
            if moved is not None and self.strict:
                raise NonDeterminismError(moved)
            if moved is not None:
                self.warnings.append(moved)

    @property
    def _code_ran(self) -> bool:
        """False in an episode whose events were only recorded (suspended or terminated instance)."""
        return not (self._suspended or self._terminated)

    def _first_unmatched(self) -> Command | None:
        return self._pending[min(self._pending)] if self._pending else None

    def check_end(self, events: list[HistoryEvent]) -> None:
        """``strict``: a committed history that has not finished must hold all the code did in it.

        Checked at its end only: the SDK's action list is what the code did over the whole history (a
        timer it cancelled later reads as cancelled from the start), so the program may schedule a task
        an episode before the history records it, but never one the history lacks.
        """
        last = events[-1] if events else None
        if not self.strict or self._finished or last is None or not self._code_ran:
            return
        if last.event_type != EventType.OrchestratorCompleted:
            return  # an episode still in progress: what it schedules is new work
        self._check_new_tasks(last)
        done = self.completion
        if done is not None:
            raise NonDeterminismError(
                different_completion(self.event_index, last, done.status, _failure_reason(done))
            )

    def _check_new_tasks(self, event: HistoryEvent) -> None:
        unmatched = self._first_unmatched()
        if unmatched is not None:
            raise NonDeterminismError(new_task(self.event_index, event, unmatched.event))

    def _check_ending(self, event: HistoryEvent) -> None:
        """The code must end the way the history ended (a termination is not the code's doing)."""
        self._finished = True
        status = recorded_status(event)
        if not self._code_ran or status in (None, OrchestrationStatus.Terminated):
            return
        self._check_new_tasks(event)
        done = self.completion
        if done is None or done.status != status:
            now = None if done is None else done.status
            raise NonDeterminismError(
                different_completion(self.event_index, event, now, _failure_reason(done))
            )

    def _complete_task(self, event: HistoryEvent) -> None:
        id_prop, succeeded = _COMPLETIONS[event.event_type]
        task = self._open.pop(int(event.get(id_prop, -1)), None)
        if task is None:
            return  # a duplicate or stale completion: ignored, as DurableTask.Core does
        if succeeded:
            task.complete(event.get("Result"))
        else:
            task.fail(TaskFailure(str(event.get("Reason") or ""), event.get("Details")))

    def unmatched_commands(self) -> list[Command]:
        return [self._pending[i] for i in sorted(self._pending)]

    def unconsumed_events(self) -> list[HistoryEvent]:
        events = [e for waiting in self._buffered_events.values() for e in waiting]
        return sorted(events, key=lambda e: e.timestamp)


def _failure_reason(completion: Completion | None) -> str | None:
    if completion is None or completion.status != OrchestrationStatus.Failed:
        return None
    return completion.result


ProgramFactory = Callable[[ReplayContext], Program]


def replay(
    runtime_state: OrchestrationRuntimeState, program: ProgramFactory, *, strict: bool = False
) -> ReplayOutcome:
    """Run ``program`` over the full history of ``runtime_state`` and collect the episode's new work.

    Raises :class:`NonDeterminismError` at the first difference from the history (``strict``: see the
    module's description).
    """
    instance_id = runtime_state.instance_id or ""
    execution_id = runtime_state.execution_id or ""
    ctx = ReplayContext(instance_id, execution_id, strict=strict)
    past_count = len(runtime_state.past_events)
    for index, event in enumerate(runtime_state.events):
        ctx.is_replaying = index < past_count
        ctx.event_index = index
        if event.event_type == EventType.ExecutionStarted:
            ctx.spawn(program(ctx))
        else:
            ctx.apply(event)
    ctx.check_end(runtime_state.events)
    return ReplayOutcome(
        ctx.unmatched_commands(),
        ctx.completion,
        unconsumed_events=ctx.unconsumed_events(),
        warnings=ctx.warnings,
    )


def compact_json(text: str | None) -> str | None:
    """Re-serialise JSON text compactly, as the reference host stores results; non-JSON passes as is."""
    if text is None:
        return None
    try:
        return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        return text
