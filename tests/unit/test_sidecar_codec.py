"""The gRPC protocol's side of the engine: history as protobufs, and responses as the engine's outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from durable_ext.core.entities import REQUEST_EVENT, RequestMessage
from durable_ext.core.history import EventType, OrchestrationStatus, event, execution_started
from durable_ext.core.state import OrchestrationRuntimeState
from durable_ext.sidecar.actions import ActionReader
from durable_ext.sidecar.failure_details import LEGACY_ERROR_TYPE
from durable_ext.sidecar.history_codec import HistoryTranslator
from durable_ext.sidecar.proto import pb, stamp, text

ENTITY = "@counter@k"


def _sent(request: RequestMessage, name: str = REQUEST_EVENT, target: str = ENTITY, event_id: int = 0):
    return event(EventType.EventSent, event_id, InstanceId=target, Name=name, Input=request.to_json())


def _kinds(protos: list[pb.HistoryEvent]) -> list[str | None]:
    return [p.WhichOneof("eventType") for p in protos]


def test_an_entity_call_and_its_answer_become_the_sdks_entity_events() -> None:
    call = RequestMessage("add", "r1", input="1", parent_instance_id="o", parent_execution_id="e")
    failing = RequestMessage("fail", "r2", parent_instance_id="o", parent_execution_id="e")
    signal = RequestMessage("add", "r3", is_signal=True, parent_instance_id="o")
    events = [
        _sent(call, event_id=0),
        _sent(failing, event_id=1),
        _sent(signal, event_id=2),
        event(EventType.EventRaised, Name="r1", Input=json.dumps({"result": "5"})),
        event(
            EventType.EventRaised,
            Name="r2",
            Input=json.dumps({"result": json.dumps("boom"), "exceptionType": "Error"}),
        ),
        event(EventType.EventRaised, Name="approve", Input='"yes"'),
    ]
    protos = HistoryTranslator().translate(events)
    assert _kinds(protos) == [
        "entityOperationCalled",
        "entityOperationCalled",
        "entityOperationSignaled",
        "entityOperationCompleted",
        "entityOperationFailed",
        "eventRaised",
    ]
    assert protos[0].eventId == 0 and protos[0].entityOperationCalled.targetInstanceId.value == ENTITY
    assert protos[3].entityOperationCompleted.output.value == "5"
    assert protos[4].entityOperationFailed.failureDetails.errorMessage == "boom"
    assert protos[5].eventRaised.name == "approve"


def test_a_lock_request_its_grant_and_the_release() -> None:
    lock = RequestMessage(
        None, "cs1", parent_instance_id="o", extra={"lockset": [ENTITY, "@counter@z"], "pos": 0}
    )
    release = event(
        EventType.EventSent,
        1,
        InstanceId=ENTITY,
        Name="release",
        Input=json.dumps({"parent": "o", "id": "cs1"}),
    )
    granted = event(EventType.EventRaised, Name="cs1", Input=json.dumps({"result": "granted"}))
    protos = HistoryTranslator().translate([_sent(lock), granted, release])
    assert _kinds(protos) == ["entityLockRequested", "entityLockGranted", "entityUnlockSent"]
    assert list(protos[0].entityLockRequested.lockSet) == [ENTITY, "@counter@z"]
    assert protos[2].entityUnlockSent.criticalSectionId == "cs1"


def test_failures_keep_their_details_or_read_as_the_reason_they_recorded() -> None:
    details = {
        "ErrorType": "builtins.ValueError",
        "ErrorMessage": "bad",
        "StackTrace": "at x",
        "IsNonRetriable": False,
    }
    with_details = event(EventType.TaskFailed, TaskScheduledId=3, Reason="bad", FailureDetails=details)
    legacy = event(EventType.TaskFailed, TaskScheduledId=4, Reason="old reason", Details="old stack")
    first, second = HistoryTranslator().translate([with_details, legacy])
    assert first.taskFailed.taskScheduledId == 3
    assert first.taskFailed.failureDetails.errorType == "builtins.ValueError"
    assert second.taskFailed.failureDetails.errorType == LEGACY_ERROR_TYPE
    assert second.taskFailed.failureDetails.errorMessage == "old reason"
    assert second.taskFailed.failureDetails.stackTrace.value == "old stack"


def _state() -> OrchestrationRuntimeState:
    state = OrchestrationRuntimeState()
    state.add(event(EventType.OrchestratorStarted))
    state.add(execution_started(instance_id="o", execution_id="e", name="flow", input_json=None))
    return state


def _action(task_id: int, **kind: object) -> pb.OrchestratorAction:
    return pb.OrchestratorAction(id=task_id, **kind)  # type: ignore[arg-type]


def test_actions_become_the_events_that_record_them_with_the_sdks_ids() -> None:
    fire_at = datetime(2030, 1, 1, tzinfo=UTC)
    response = pb.OrchestratorResponse(
        actions=[
            _action(0, scheduleTask=pb.ScheduleTaskAction(name="hello", input=text('"x"'))),
            _action(1, createTimer=pb.CreateTimerAction(fireAt=stamp(fire_at))),
            _action(
                2, createSubOrchestration=pb.CreateSubOrchestrationAction(instanceId="child", name="sub")
            ),
            _action(
                3, sendEvent=pb.SendEventAction(instance=pb.OrchestrationInstance(instanceId="x"), name="go")
            ),
        ],
        customStatus=text('"working"'),
    )
    outcome = ActionReader(_state()).outcome(response)
    assert [(c.event.event_type, c.id) for c in outcome.new_commands] == [
        (EventType.TaskScheduled, 0),
        (EventType.TimerCreated, 1),
        (EventType.SubOrchestrationInstanceCreated, 2),
        (EventType.EventSent, 3),
    ]
    assert outcome.new_commands[0].event.input == '"x"'
    assert outcome.new_commands[1].event.get("FireAt") == fire_at
    assert outcome.new_commands[2].event.get("InstanceId") == "child"
    assert outcome.completion is None and outcome.custom_status == '"working"'


def test_a_failed_completion_keeps_the_reason_and_the_details() -> None:
    failure = pb.TaskFailureDetails(
        errorType="builtins.RuntimeError", errorMessage="broke", stackTrace=text("trace")
    )
    complete = pb.CompleteOrchestrationAction(
        orchestrationStatus=pb.ORCHESTRATION_STATUS_FAILED, failureDetails=failure
    )
    outcome = ActionReader(_state()).outcome(
        pb.OrchestratorResponse(actions=[_action(5, completeOrchestration=complete)])
    )
    assert outcome.completion is not None
    assert outcome.completion.status == OrchestrationStatus.Failed
    assert (outcome.completion.result, outcome.completion.details) == ("broke", "trace")
    assert outcome.completion.failure_details is not None
    assert outcome.completion.failure_details["ErrorType"] == "builtins.RuntimeError"


def test_continue_as_new_carries_the_events_the_sdk_kept() -> None:
    carried = pb.HistoryEvent(eventRaised=pb.EventRaisedEvent(name="extra", input=text("1")))
    complete = pb.CompleteOrchestrationAction(
        orchestrationStatus=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
        result=text("7"),
        carryoverEvents=[carried],
    )
    outcome = ActionReader(_state()).outcome(
        pb.OrchestratorResponse(actions=[_action(0, completeOrchestration=complete)])
    )
    assert outcome.completion is not None and outcome.completion.continue_input == "7"
    assert [(e.name, e.input) for e in outcome.unconsumed_events] == [("extra", "1")]


def test_requests_to_an_entity_are_stamped_in_order_with_the_senders_execution() -> None:
    """A signal and a call to the same entity: the second names the first as its predecessor, and both
    carry the execution, or the entity would wait for the first forever."""
    signal = pb.EntityOperationSignaledEvent(requestId="s", operation="add", targetInstanceId=text(ENTITY))
    call = pb.EntityOperationCalledEvent(requestId="c", operation="get", targetInstanceId=text(ENTITY))
    response = pb.OrchestratorResponse(
        actions=[
            _action(0, sendEntityMessage=pb.SendEntityMessageAction(entityOperationSignaled=signal)),
            _action(1, sendEntityMessage=pb.SendEntityMessageAction(entityOperationCalled=call)),
        ]
    )
    first, second = (
        RequestMessage.from_json(c.event.input) for c in ActionReader(_state()).outcome(response).new_commands
    )
    assert first.is_signal and not second.is_signal
    assert first.parent_execution_id == second.parent_execution_id == "e"
    assert first.timestamp is not None and second.predecessor == first.timestamp
    assert second.timestamp is not None and second.timestamp > first.timestamp
