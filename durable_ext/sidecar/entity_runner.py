"""Entity batches for gRPC workers: the engine's scheduler picks the batch, the worker runs it.

The batch goes out as an ``EntityBatchRequest``; the ``EntityBatchResult`` gives one result per
operation and the new state (none: the entity was deleted), and the signals the entity sent, which go
out as the engine sends any signal. A batch that failed as a whole fails the episode, so it is retried.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

from ..core.entities import REQUEST_EVENT, RequestMessage, scheduled_request_event
from ..core.entity_scheduler import OperationResult, finish_batch, plan_batch
from ..core.history import EventType, HistoryEvent, utc_now
from ..core.replay import Command, ReplayOutcome
from ..core.state import OrchestrationRuntimeState
from ..errors import DurableExtError
from .failure_details import details_from_proto
from .proto import optional_text, optional_time, pb, text
from .runners import ExecuteEntity

log = logging.getLogger("durable_ext.entities")


class EntityBatchFailed(DurableExtError):
    """The worker could not run the batch at all (the entity's code was not found, its state unreadable)."""


class GrpcEntityRunner:
    def __init__(self, execute: ExecuteEntity, *, max_batch_size: int, reorder_window_minutes: float) -> None:
        self.execute = execute
        self.max_batch_size = max_batch_size
        self.reorder_window = timedelta(minutes=reorder_window_minutes)

    async def run(self, state: OrchestrationRuntimeState) -> ReplayOutcome:
        batch = plan_batch(state, max_batch_size=self.max_batch_size, reorder_window=self.reorder_window)
        if batch.received == 0:
            return ReplayOutcome([], None, user_code_ran=False)
        scheduler = batch.state
        if not batch.requests:
            return finish_batch(batch, [], scheduler.exists, scheduler.state)
        request = pb.EntityBatchRequest(
            instanceId=batch.entity.instance_id,
            entityState=text(scheduler.state if scheduler.exists else None),
            operations=[
                pb.OperationRequest(operation=r.operation or "", requestId=r.id, input=text(r.input))
                for r in batch.requests
            ],
        )
        result = await self.execute(batch.entity.name, request)
        if result.HasField("failureDetails"):
            raise EntityBatchFailed(
                f"Entity '{batch.entity.instance_id}': the worker could not run the batch: "
                f"{result.failureDetails.errorType}: {result.failureDetails.errorMessage}"
            )
        results = [_result(r) for r in result.results]
        if len(results) != len(batch.requests):
            raise EntityBatchFailed(
                f"Entity '{batch.entity.instance_id}': the worker returned {len(results)} results for "
                f"{len(batch.requests)} operations"
            )
        state_json = optional_text(result, "entityState")
        outcome = finish_batch(batch, results, state_json is not None, state_json)
        outcome.new_commands += _signals(batch.entity.instance_id, result.actions, len(outcome.new_commands))
        return outcome


def _result(result: pb.OperationResult) -> OperationResult:
    if result.HasField("failure"):
        failure = result.failure.failureDetails
        details = details_from_proto(failure)
        return OperationResult(True, json.dumps(failure.errorMessage), failure_details=details)
    return OperationResult(False, optional_text(result.success, "result"))


def _signals(own_id: str, actions: list[pb.OperationAction], first_id: int) -> list[Command]:
    commands: list[Command] = []
    for action in actions:
        if not action.HasField("sendSignal"):
            log.error(
                "Entity '%s' asked to start an orchestration, which entities cannot do on this host yet",
                own_id,
            )
            continue
        signal = action.sendSignal
        due = optional_time(signal, "scheduledTime")
        request = RequestMessage(
            signal.name,
            str(uuid.uuid4()),
            is_signal=True,
            input=optional_text(signal, "input"),
            scheduled_time=due,
        )
        name = REQUEST_EVENT if due is None else scheduled_request_event(due)
        props = {"InstanceId": signal.instanceId, "Name": name, "Input": request.to_json()}
        sent = HistoryEvent(EventType.EventSent, first_id + len(commands), utc_now(), False, props)
        commands.append(Command(sent, visible_at=due))
    return commands
