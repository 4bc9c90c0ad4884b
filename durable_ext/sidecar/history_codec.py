"""History events as the engine stores them (DurableTask.Core's) and as ``HistoryEvent`` protobufs.

Most events map one to one. Entities are the exception: the engine records what an orchestration sends
an entity as an ``EventSent`` carrying a request message, and the entity's answer as an
``EventRaised`` named by the request id, as DurableTask.Core does; the Durable Task SDKs expect the
entity events instead (``entityOperationCalled`` ... ``entityLockGranted``). :class:`HistoryTranslator`
goes over an instance's events in order, remembering which requests it has seen, so that it can tell an
entity's answer from an ordinary external event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from ..core.entities import (
    RELEASE_EVENT,
    RequestMessage,
    is_entity_instance,
    is_request_event,
    lock_member_id,
)
from ..core.history import EventType, HistoryEvent, OrchestrationStatus
from .failure_details import details_to_proto, recorded_failure
from .proto import pb, stamp, status_to_proto, text

_CALL = "call"
_LOCK = "lock"


def _instance(value: Any) -> pb.OrchestrationInstance | None:
    if not isinstance(value, dict) or not value.get("InstanceId"):
        return None
    return pb.OrchestrationInstance(
        instanceId=str(value["InstanceId"]), executionId=text(value.get("ExecutionId"))
    )


def _parent(value: Any) -> pb.ParentInstanceInfo | None:
    if not isinstance(value, dict):
        return None
    return pb.ParentInstanceInfo(
        taskScheduledId=int(value.get("TaskScheduleId", -1)),
        name=text(value.get("Name")),
        version=text(value.get("Version")),
        orchestrationInstance=_instance(value.get("OrchestrationInstance")),
    )


def _tags(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _started(e: HistoryEvent) -> pb.HistoryEvent:
    return pb.HistoryEvent(
        executionStarted=pb.ExecutionStartedEvent(
            name=e.name or "",
            version=text(e.get("Version")),
            input=text(e.input),
            orchestrationInstance=_instance(e.get("OrchestrationInstance")),
            parentInstance=_parent(e.get("ParentInstance")),
            scheduledStartTimestamp=stamp(e.get("ScheduledStartTime")),
            tags=_tags(e.get("Tags")),
        )
    )


def _completed(e: HistoryEvent) -> pb.HistoryEvent:
    status = OrchestrationStatus(int(e.get("OrchestrationStatus", 0)))
    failed = status == OrchestrationStatus.Failed
    return pb.HistoryEvent(
        executionCompleted=pb.ExecutionCompletedEvent(
            orchestrationStatus=status_to_proto(status),
            result=None if failed else text(e.get("Result")),
            failureDetails=recorded_failure(e.props) if failed else details_to_proto(e.get("FailureDetails")),
        )
    )


def _simple(e: HistoryEvent) -> pb.HistoryEvent | None:
    """The events that need nothing but their own props."""
    kind = e.event_type
    p = e.props
    if kind == EventType.ExecutionTerminated:
        return pb.HistoryEvent(executionTerminated=pb.ExecutionTerminatedEvent(input=text(e.input)))
    if kind == EventType.TaskScheduled:
        return pb.HistoryEvent(
            taskScheduled=pb.TaskScheduledEvent(
                name=e.name or "",
                version=text(p.get("Version")),
                input=text(e.input),
                tags=_tags(p.get("Tags")),
            )
        )
    if kind == EventType.TaskCompleted:
        return pb.HistoryEvent(
            taskCompleted=pb.TaskCompletedEvent(taskScheduledId=_task_id(e), result=text(p.get("Result")))
        )
    if kind == EventType.TaskFailed:
        return pb.HistoryEvent(
            taskFailed=pb.TaskFailedEvent(taskScheduledId=_task_id(e), failureDetails=recorded_failure(p))
        )
    if kind == EventType.SubOrchestrationInstanceCreated:
        return pb.HistoryEvent(
            subOrchestrationInstanceCreated=pb.SubOrchestrationInstanceCreatedEvent(
                instanceId=str(p.get("InstanceId") or ""),
                name=e.name or "",
                version=text(p.get("Version")),
                input=text(e.input),
                tags=_tags(p.get("Tags")),
            )
        )
    if kind == EventType.SubOrchestrationInstanceCompleted:
        return pb.HistoryEvent(
            subOrchestrationInstanceCompleted=pb.SubOrchestrationInstanceCompletedEvent(
                taskScheduledId=_task_id(e), result=text(p.get("Result"))
            )
        )
    if kind == EventType.SubOrchestrationInstanceFailed:
        return pb.HistoryEvent(
            subOrchestrationInstanceFailed=pb.SubOrchestrationInstanceFailedEvent(
                taskScheduledId=_task_id(e), failureDetails=recorded_failure(p)
            )
        )
    if kind == EventType.TimerCreated:
        return pb.HistoryEvent(timerCreated=pb.TimerCreatedEvent(fireAt=stamp(p.get("FireAt"))))
    if kind == EventType.TimerFired:
        return pb.HistoryEvent(
            timerFired=pb.TimerFiredEvent(fireAt=stamp(p.get("FireAt")), timerId=int(p.get("TimerId", -1)))
        )
    return _markers(e)


def _markers(e: HistoryEvent) -> pb.HistoryEvent | None:
    kind = e.event_type
    reason = e.get("Reason") if e.get("Reason") is not None else e.get("Input")
    if kind == EventType.OrchestratorStarted:
        return pb.HistoryEvent(orchestratorStarted=pb.OrchestratorStartedEvent())
    if kind == EventType.OrchestratorCompleted:
        return pb.HistoryEvent(orchestratorCompleted=pb.OrchestratorCompletedEvent())
    if kind == EventType.ExecutionSuspended:
        return pb.HistoryEvent(executionSuspended=pb.ExecutionSuspendedEvent(input=text(reason)))
    if kind == EventType.ExecutionResumed:
        return pb.HistoryEvent(executionResumed=pb.ExecutionResumedEvent(input=text(reason)))
    if kind == EventType.ContinueAsNew:
        return pb.HistoryEvent(continueAsNew=pb.ContinueAsNewEvent(input=text(e.get("Result"))))
    if kind == EventType.GenericEvent:
        return pb.HistoryEvent(genericEvent=pb.GenericEvent(data=text(e.get("Data"))))
    if kind == EventType.ExecutionRewound:
        return pb.HistoryEvent(executionRewound=pb.ExecutionRewoundEvent(reason=text(reason)))
    return None


def _task_id(e: HistoryEvent) -> int:
    return int(e.get("TaskScheduledId", -1))


class HistoryTranslator:
    """Turns one instance's events, in order, into protobufs (see the module's description)."""

    def __init__(self) -> None:
        self._requests: dict[str, str] = {}
        """Request id -> what the orchestration waits for from it (an entity's answer or a lock)."""

    def translate(self, events: Iterable[HistoryEvent]) -> list[pb.HistoryEvent]:
        translated = []
        for e in events:
            proto = self.one(e)
            if proto is not None:
                translated.append(proto)
        return translated

    def one(self, e: HistoryEvent) -> pb.HistoryEvent | None:
        """The protobuf of ``e``; ``None`` for what the SDKs have no event for (``HistoryState``)."""
        build: Callable[[HistoryEvent], pb.HistoryEvent | None]
        if e.event_type == EventType.ExecutionStarted:
            build = _started
        elif e.event_type == EventType.ExecutionCompleted:
            build = _completed
        elif e.event_type == EventType.EventSent:
            build = self._sent
        elif e.event_type == EventType.EventRaised:
            build = self._raised
        else:
            build = _simple
        proto = build(e)
        if proto is None:
            return None
        proto.eventId = e.event_id
        proto.timestamp.CopyFrom(stamp(e.timestamp))
        return proto

    def _sent(self, e: HistoryEvent) -> pb.HistoryEvent:
        target = str(e.get("InstanceId") or "")
        name = e.name or ""
        if is_entity_instance(target) and is_request_event(name):
            entity_event = self._entity_request(target, e.input)
            if entity_event is not None:
                return entity_event
        if is_entity_instance(target) and name == RELEASE_EVENT:
            release = _json_object(e.input)
            return pb.HistoryEvent(
                entityUnlockSent=pb.EntityUnlockSentEvent(
                    criticalSectionId=str(release.get("id") or ""),
                    parentInstanceId=text(release.get("parent")),
                    targetInstanceId=text(target),
                )
            )
        return pb.HistoryEvent(eventSent=pb.EventSentEvent(instanceId=target, name=name, input=text(e.input)))

    def _entity_request(self, target: str, input_json: str | None) -> pb.HistoryEvent | None:
        try:
            request = RequestMessage.from_json(input_json)
        except ValueError:
            return None
        if request.is_lock_request:
            self._requests[request.id] = _LOCK
            return pb.HistoryEvent(
                entityLockRequested=pb.EntityLockRequestedEvent(
                    criticalSectionId=request.id,
                    lockSet=[lock_member_id(member) for member in request.extra.get("lockset") or []],
                    position=int(request.extra.get("pos") or 0),
                    parentInstanceId=text(request.parent_instance_id),
                )
            )
        if request.is_signal:
            return pb.HistoryEvent(
                entityOperationSignaled=pb.EntityOperationSignaledEvent(
                    requestId=request.id,
                    operation=request.operation or "",
                    scheduledTime=stamp(request.scheduled_time),
                    input=text(request.input),
                    targetInstanceId=text(target),
                )
            )
        self._requests[request.id] = _CALL
        return pb.HistoryEvent(
            entityOperationCalled=pb.EntityOperationCalledEvent(
                requestId=request.id,
                operation=request.operation or "",
                scheduledTime=stamp(request.scheduled_time),
                input=text(request.input),
                parentInstanceId=text(request.parent_instance_id),
                parentExecutionId=text(request.parent_execution_id),
                targetInstanceId=text(target),
            )
        )

    def _raised(self, e: HistoryEvent) -> pb.HistoryEvent:
        name = e.name or ""
        waiting = self._requests.pop(name, None)
        if waiting == _LOCK:
            return pb.HistoryEvent(entityLockGranted=pb.EntityLockGrantedEvent(criticalSectionId=name))
        if waiting == _CALL:
            return _entity_answer(name, e.input)
        return pb.HistoryEvent(eventRaised=pb.EventRaisedEvent(name=name, input=text(e.input)))


def _entity_answer(request_id: str, input_json: str | None) -> pb.HistoryEvent:
    """An entity's ``ResponseMessage``: ``result`` (JSON text), and ``exceptionType`` or
    ``failureDetails`` when the operation failed."""
    response = _json_object(input_json)
    failure = response.get("failureDetails")
    if isinstance(failure, dict) or response.get("exceptionType"):
        details = details_to_proto(failure) if isinstance(failure, dict) else None
        if details is None:
            message = _plain_text(response.get("result"))
            details = pb.TaskFailureDetails(
                errorType=str(response.get("exceptionType")), errorMessage=message
            )
        return pb.HistoryEvent(
            entityOperationFailed=pb.EntityOperationFailedEvent(requestId=request_id, failureDetails=details)
        )
    result = response.get("result")
    return pb.HistoryEvent(
        entityOperationCompleted=pb.EntityOperationCompletedEvent(
            requestId=request_id, output=text(None if result is None else str(result))
        )
    )


def _plain_text(result: Any) -> str:
    """An error message kept as JSON text (``"\\"boom\\""``) as the text itself."""
    if result is None:
        return ""
    try:
        decoded = json.loads(str(result))
    except ValueError:
        return str(result)
    return decoded if isinstance(decoded, str) else str(result)


def _json_object(text_value: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(text_value or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
