"""What a Durable Task SDK reports for an episode (``OrchestratorResponse``) as the engine's outcome.

The SDK replays the history and checks determinism itself; its response holds only the actions that
are new in this episode, each with the sequence id the SDK gave it. Each becomes the history event
that records it (a :class:`~durable_ext.core.replay.Command`), and the completion action becomes the
episode's :class:`~durable_ext.core.replay.Completion`. Requests to entities are sent as the engine
sends them for any orchestration (request messages in ``EventSent``), stamped for in-order delivery.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..core.entities import RELEASE_EVENT, REQUEST_EVENT, RequestMessage, scheduled_request_event
from ..core.history import EventType, HistoryEvent, OrchestrationStatus, utc_now
from ..core.message_sorter import label_outgoing
from ..core.replay import Command, Completion, ReplayOutcome
from ..core.state import OrchestrationRuntimeState
from ..errors import InvalidRequestError
from .failure_details import details_from_proto
from .proto import optional_text, optional_time, pb, status_from_proto


class EntityClocks:
    """Per entity, the timestamp of the last request the instance's history sent it (all of it, and
    the committed part): what the next request to it is stamped after (see ``MessageSorter``)."""

    def __init__(self, state: OrchestrationRuntimeState) -> None:
        self.sent: dict[str, datetime] = {}
        self.committed: dict[str, datetime] = {}
        for index, e in enumerate(state.events):
            stamp = _request_timestamp(e)
            if stamp is None:
                continue
            target = str(e.get("InstanceId")).lower()
            self.sent[target] = stamp
            if index < len(state.past_events):
                self.committed[target] = stamp

    def label(self, target: str, request: RequestMessage, now: datetime) -> None:
        key = target.lower()
        self.sent[key] = label_outgoing(request, now, self.sent.get(key), self.committed.get(key))


def _request_timestamp(e: HistoryEvent) -> datetime | None:
    if e.event_type != EventType.EventSent or not str(e.name or "").startswith(REQUEST_EVENT):
        return None
    try:
        return RequestMessage.from_json(e.input).timestamp
    except ValueError:
        return None


class ActionReader:
    """Reads one response's actions against the state of the episode that produced it."""

    def __init__(self, state: OrchestrationRuntimeState) -> None:
        self.state = state
        self.instance_id = state.instance_id or ""
        self.execution_id = state.execution_id or ""
        self.clocks = EntityClocks(state)
        self.now = _orchestration_time(state)

    def outcome(self, response: pb.OrchestratorResponse) -> ReplayOutcome:
        commands: list[Command] = []
        completion: Completion | None = None
        carried: list[HistoryEvent] = []
        for action in response.actions:
            kind = action.WhichOneof("orchestratorActionType")
            if kind == "completeOrchestration":
                completion, carried = _completion(action.completeOrchestration)
            elif kind is not None:
                commands.append(self.command(action.id, kind, getattr(action, kind)))
        custom_status = optional_text(response, "customStatus")
        return ReplayOutcome(commands, completion, custom_status=custom_status, unconsumed_events=carried)

    def command(self, task_id: int, kind: str, action: Any) -> Command:
        if kind == "scheduleTask":
            props = {
                "Name": action.name,
                "Version": optional_text(action, "version") or "",
                "Input": optional_text(action, "input"),
            }
            if action.tags:
                props["Tags"] = dict(action.tags)
            return _command(EventType.TaskScheduled, task_id, props)
        if kind == "createTimer":
            return _command(EventType.TimerCreated, task_id, {"FireAt": optional_time(action, "fireAt")})
        if kind == "createSubOrchestration":
            child_id = action.instanceId or f"{self.execution_id}:{task_id}"
            props = {
                "Name": action.name,
                "Version": optional_text(action, "version") or "",
                "InstanceId": child_id,
                "Input": optional_text(action, "input"),
            }
            return _command(EventType.SubOrchestrationInstanceCreated, task_id, props)
        if kind == "sendEvent":
            props = {
                "InstanceId": action.instance.instanceId,
                "Name": action.name,
                "Input": optional_text(action, "data"),
            }
            return _command(EventType.EventSent, task_id, props)
        if kind == "sendEntityMessage":
            return self._entity_message(task_id, action)
        raise InvalidRequestError(
            f"Orchestration '{self.instance_id}' returned a '{kind}' action, which this host does not run."
        )

    def _entity_message(self, task_id: int, action: pb.SendEntityMessageAction) -> Command:
        kind = action.WhichOneof("EntityMessageType")
        if kind == "entityUnlockSent":
            unlock = action.entityUnlockSent
            target = optional_text(unlock, "targetInstanceId") or ""
            release = {
                "parent": optional_text(unlock, "parentInstanceId") or self.instance_id,
                "id": unlock.criticalSectionId,
            }
            props = {"InstanceId": target, "Name": RELEASE_EVENT, "Input": json.dumps(release)}
            return _command(EventType.EventSent, task_id, props)
        if kind == "entityLockRequested":
            lock = action.entityLockRequested
            request = RequestMessage(
                None,
                lock.criticalSectionId,
                parent_instance_id=self.instance_id,
                parent_execution_id=self.execution_id,
                extra={"lockset": list(lock.lockSet), "pos": lock.position},
            )
            return self._request(task_id, lock.lockSet[lock.position], request)
        if kind == "entityOperationSignaled":
            signal = action.entityOperationSignaled
            request = RequestMessage(
                signal.operation,
                signal.requestId,
                is_signal=True,
                input=optional_text(signal, "input"),
                parent_instance_id=self.instance_id,
                parent_execution_id=self.execution_id,
                scheduled_time=optional_time(signal, "scheduledTime"),
            )
            return self._request(task_id, optional_text(signal, "targetInstanceId") or "", request)
        call = action.entityOperationCalled
        request = RequestMessage(
            call.operation,
            call.requestId,
            input=optional_text(call, "input"),
            parent_instance_id=self.instance_id,
            parent_execution_id=self.execution_id,
            scheduled_time=optional_time(call, "scheduledTime"),
        )
        return self._request(task_id, optional_text(call, "targetInstanceId") or "", request)

    def _request(self, task_id: int, target: str, request: RequestMessage) -> Command:
        self.clocks.label(target, request, self.now)
        due = request.scheduled_time
        name = REQUEST_EVENT if due is None else scheduled_request_event(due)
        props = {"InstanceId": target, "Name": name, "Input": request.to_json()}
        return Command(HistoryEvent(EventType.EventSent, task_id, utc_now(), False, props), visible_at=due)


def _command(kind: EventType, task_id: int, props: dict[str, Any]) -> Command:
    return Command(HistoryEvent(kind, task_id, utc_now(), False, props))


def _completion(action: pb.CompleteOrchestrationAction) -> tuple[Completion, list[HistoryEvent]]:
    status = status_from_proto(action.orchestrationStatus)
    result = optional_text(action, "result")
    if status == OrchestrationStatus.ContinuedAsNew:
        carried = list(_carried(action.carryoverEvents))
        return Completion(status, result, continue_input=result), carried
    if status == OrchestrationStatus.Failed:
        failure = action.failureDetails
        details = details_from_proto(failure) if action.HasField("failureDetails") else None
        reason = failure.errorMessage if details else (result or optional_text(action, "details") or "")
        stack = optional_text(failure, "stackTrace") if details else optional_text(action, "details")
        return Completion(status, reason, stack, failure_details=details), []
    return Completion(status, result), []


def _carried(events: Iterable[pb.HistoryEvent]) -> Iterable[HistoryEvent]:
    """The external events a continue-as-new carries over (the SDK sends them as ``eventRaised``)."""
    for carried in events:
        if carried.HasField("eventRaised"):
            raised = carried.eventRaised
            props = {"Name": raised.name, "Input": optional_text(raised, "input")}
            yield HistoryEvent(EventType.EventRaised, -1, utc_now(), False, props)


def _orchestration_time(state: OrchestrationRuntimeState) -> datetime:
    """The episode's time: its ``OrchestratorStarted``, as the SDK's ``current_utc_datetime``."""
    for e in reversed(state.events):
        if e.event_type == EventType.OrchestratorStarted:
            return e.timestamp
    return utc_now()
