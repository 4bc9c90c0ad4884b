"""One episode of an entity: take in its new requests, pick the next batch, and record what it did.

This is the storage-agnostic half of the reference's entity scheduler. :func:`plan_batch` rehydrates
the scheduler state from the current execution's input, puts the new requests through the message
sorter into the entity's queue and takes up to ``max_batch_size`` of them. Whoever runs the entity
function reports one :class:`OperationResult` per request and the new state; :func:`finish_batch`
turns that into responses to callers, a continue-as-new carrying the new scheduler state and, when
the batch limit left requests queued, a ``continue`` message to the entity itself.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .entities import (
    CONTINUE_EVENT,
    RELEASE_EVENT,
    REQUEST_EVENT,
    EntityId,
    RequestMessage,
    SchedulerState,
    is_request_event,
    lock_member_id,
    scheduled_request_event,
)
from .history import EventType, HistoryEvent, OrchestrationStatus, execution_started, utc_now
from .message_sorter import MessageSorter
from .replay import Command, Completion, ReplayOutcome
from .state import OrchestrationRuntimeState

log = logging.getLogger("durable_ext.entities")

_EARLY = timedelta(milliseconds=100)


@dataclass
class OperationResult:
    is_error: bool
    result: str | None
    """The JSON text of the operation's result, or of its error message."""
    failure_details: dict[str, Any] | None = None
    """DurableTask's ``FailureDetails`` of a failed operation, when its runner reports them (gRPC)."""


@dataclass
class EntityBatch:
    entity: EntityId
    state: SchedulerState
    requests: list[RequestMessage] = field(default_factory=list)
    reschedule: list[RequestMessage] = field(default_factory=list)
    locks: list[RequestMessage] = field(default_factory=list)
    """Lock requests this batch granted: each goes on to the next entity of its lock set, or, from
    the last one, tells the orchestration that its critical section holds every lock."""
    continue_later: bool = False
    received: int = 0
    """How many messages this episode took in; none means there is nothing to commit."""


def auto_start(instance_id: str) -> HistoryEvent:
    """The start of an entity that receives its first message (entities are never started explicitly)."""
    entity = EntityId.parse(instance_id)
    return execution_started(
        instance_id=instance_id, execution_id=uuid.uuid4().hex, name=entity.name, input_json=None
    )


def plan_batch(
    runtime_state: OrchestrationRuntimeState,
    *,
    max_batch_size: int,
    reorder_window: timedelta,
    now: datetime | None = None,
) -> EntityBatch:
    now = now or utc_now()
    entity = EntityId.parse(runtime_state.instance_id or "")
    state = SchedulerState.from_json(runtime_state.input)
    batch = EntityBatch(entity, state)
    sorter = MessageSorter(state.sorter, reorder_window)
    for event in runtime_state.new_events:
        if event.event_type != EventType.EventRaised:
            continue
        batch.received += 1
        name = event.name or ""
        if is_request_event(name):
            _take_request(batch, sorter, event, now)
        elif name == RELEASE_EVENT:
            released_by = (json.loads(event.input or "{}") or {}).get("parent")
            if state.locked_by == released_by:
                state.locked_by = None
        elif name == CONTINUE_EVENT:
            state.suspended = False
    _take_batch(batch, max_batch_size)
    return batch


def _take_batch(batch: EntityBatch, max_batch_size: int) -> None:
    """Take the queued requests this batch runs, in order. A lock request at the head of the queue locks
    the entity for its orchestration; while it is locked only that orchestration's requests run, and
    the others wait in the queue until it releases the lock."""
    state = batch.state
    while not state.suspended:
        index = _next_request(state)
        if index is None:
            return
        if state.queue[index].is_lock_request:
            lock = state.queue.pop(index)
            state.locked_by = lock.parent_instance_id
            batch.locks.append(lock)
            continue
        if len(batch.requests) >= max_batch_size:
            batch.continue_later = True  # persist this batch's effects before the next one
            return
        batch.requests.append(state.queue.pop(index))


def _next_request(state: SchedulerState) -> int | None:
    if state.locked_by is None:
        return 0 if state.queue else None
    holder = state.locked_by.lower()
    return next(
        (
            i
            for i, r in enumerate(state.queue)
            if (r.parent_instance_id or "").lower() == holder and not r.is_lock_request
        ),
        None,
    )


def _take_request(batch: EntityBatch, sorter: MessageSorter, event: HistoryEvent, now: datetime) -> None:
    try:
        request = RequestMessage.from_json(event.input)
    except ValueError as exc:
        log.error(
            "Entity '%s' dropped a request it cannot read (%s): %r",
            batch.entity.instance_id,
            exc,
            event.input,
        )
        return
    if request.scheduled_time is not None:
        if request.scheduled_time - now > _EARLY:
            batch.reschedule.append(request)  # delivered before its time: send it again, delayed
        else:
            batch.state.queue.append(request)  # scheduled requests are not ordered
        return
    batch.state.queue.extend(sorter.receive(request))


def finish_batch(
    batch: EntityBatch, results: list[OperationResult], exists: bool, state_json: str | None
) -> ReplayOutcome:
    """Responses to callers and the continue-as-new that stores the new scheduler state."""
    scheduler = batch.state
    if batch.requests:
        scheduler.exists, scheduler.state = exists, (state_json if exists else None)
    commands: list[Command] = []

    def send(target: str, name: str, input_json: str | None, **where: object) -> None:
        props = {"InstanceId": target, "Name": name, "Input": input_json}
        sent = HistoryEvent(EventType.EventSent, len(commands), utc_now(), False, props)
        commands.append(Command(sent, **where))  # type: ignore[arg-type]

    for request, result in zip(batch.requests, results, strict=True):
        if request.is_signal or not request.parent_instance_id:
            continue
        response: dict[str, object] = {"result": result.result}
        if result.is_error:
            response["exceptionType"] = "Error"
        if result.failure_details is not None:
            response["failureDetails"] = result.failure_details
        send(
            request.parent_instance_id,
            request.id,
            json.dumps(response, separators=(",", ":")),
            target_execution_id=request.parent_execution_id,
        )
    for lock in batch.locks:
        target, message = _lock_step(lock)
        if target is None:
            send(str(lock.parent_instance_id), lock.id, message, target_execution_id=lock.parent_execution_id)
        else:
            send(target, REQUEST_EVENT, message)
    own_id = batch.entity.instance_id
    for request in batch.reschedule:
        due = request.scheduled_time
        assert due is not None
        send(own_id, scheduled_request_event(due), request.to_json(), visible_at=due)
    if batch.continue_later and not scheduler.suspended:
        scheduler.suspended = True
        send(own_id, CONTINUE_EVENT, None)
    completion = Completion(
        OrchestrationStatus.ContinuedAsNew, scheduler.to_json(), continue_input=scheduler.to_json()
    )
    return ReplayOutcome(commands, completion, custom_status=entity_status(scheduler))


LOCK_GRANTED = json.dumps({"result": json.dumps("Lock Acquisition Completed")}, separators=(",", ":"))
"""What the last entity of a lock set answers the orchestration (its critical section has begun)."""


def _lock_step(lock: RequestMessage) -> tuple[str | None, str]:
    """Where a granted lock request goes next: the next entity of the lock set (the request, one
    position on), or ``None`` and the answer to the orchestration when this was the last."""
    lockset = [lock_member_id(member) for member in lock.extra.get("lockset") or []]
    position = int(lock.extra.get("pos") or 0)
    if position + 1 >= len(lockset):
        return None, LOCK_GRANTED
    forward = RequestMessage(
        None,
        lock.id,
        parent_instance_id=lock.parent_instance_id,
        parent_execution_id=lock.parent_execution_id,
        extra={**lock.extra, "pos": position + 1},
    )  # unstamped: it is the entity's, not the orchestration's, so the next entity takes it as it comes
    return lockset[position + 1], forward.to_json()


def entity_status(scheduler: SchedulerState) -> str:
    """The small status the reference shows for an entity instance (never its state), with the last
    failed operation, which the reference only logs."""
    status: dict[str, object] = {"entityExists": scheduler.exists, "queueSize": len(scheduler.queue)}
    if scheduler.locked_by is not None:
        status["lockedBy"] = scheduler.locked_by
    if scheduler.last_failure is not None:
        status["lastFailure"] = scheduler.last_failure
    return json.dumps(status, separators=(",", ":"))
