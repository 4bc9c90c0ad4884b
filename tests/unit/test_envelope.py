"""Queue message envelope: DurableTask.AzureStorage ``MessageData`` JSON (reference §4.1)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from durable_ext.azurestorage.envelope import MessageFormatError, decode, encode, encode_blob_pointer
from durable_ext.core.history import EventType, HistoryEvent, execution_started
from durable_ext.core.messages import TaskMessage

INSTANCE = "2.2-34a2c9d4-306e-4467-8470-a8018b2e4f11"
EXECUTION = "aae324dcc8f943e490b37ec5e5bbf9da"
TS = datetime(2023, 3, 24, 20, 53, 5, 909351, tzinfo=UTC)
TAGS_TYPE = (
    "System.Collections.Generic.Dictionary`2[[System.String, System.Private.CoreLib],"
    "[System.String, System.Private.CoreLib]]"
)
DOTNET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")

# MessageManagerTests.cs sample as quoted in azure-storage-provider.md §4.1 (the instance id, elided
# there with "…", is the full id from the routing vectors in §5.1).
REFERENCE_SAMPLE = (
    '{"$type":"DurableTask.AzureStorage.MessageData","ActivityId":"5406d369-4369-4673-afae-6671a2fa1e57",'
    '"TaskMessage":{"$type":"DurableTask.Core.TaskMessage",'
    '"Event":{"$type":"DurableTask.Core.History.ExecutionStartedEvent",'
    '"OrchestrationInstance":{"$type":"DurableTask.Core.OrchestrationInstance",'
    f'"InstanceId":"{INSTANCE}","ExecutionId":"{EXECUTION}"}},'
    '"EventType":0,"ParentInstance":null,"Name":"OrchestrationName","Version":"2.0","Input":"input",'
    '"Tags":{"$type":"System.Collections.Generic.Dictionary`2[[System.String, System.Private.CoreLib],'
    '[System.String, System.Private.CoreLib]]","tag1":"tagValue"},'
    '"Correlation":null,"ScheduledStartTime":null,"Generation":0,"EventId":-1,"IsPlayed":false,'
    '"Timestamp":"2023-03-24T20:53:05.9093518Z"},'
    '"SequenceNumber":0,'
    '"OrchestrationInstance":{"$type":"DurableTask.Core.OrchestrationInstance",'
    f'"InstanceId":"{INSTANCE}","ExecutionId":"{EXECUTION}"}}}},'
    '"CompressedBlobName":null,"SequenceNumber":40,"Sender":{"InstanceId":"","ExecutionId":""},'
    '"SerializableTraceContext":null}'
)


def _started() -> HistoryEvent:
    return execution_started(
        instance_id=INSTANCE,
        execution_id=EXECUTION,
        name="OrchestrationName",
        input_json="input",
        version="2.0",
        tags={"tag1": "tagValue"},
        timestamp=TS,
    )


def _round_trip(message: TaskMessage) -> TaskMessage:
    _, body, _ = encode(message)
    decoded = decode(body)
    assert decoded.message is not None
    assert decoded.compressed_blob_name is None
    return decoded.message


def _assert_same_event(a: HistoryEvent, b: HistoryEvent) -> None:
    assert a.event_type == b.event_type
    assert a.event_id == b.event_id
    assert a.is_played == b.is_played
    assert a.timestamp == b.timestamp
    assert a.props == b.props


def test_execution_started_round_trip() -> None:
    message = TaskMessage(_started(), INSTANCE, EXECUTION)
    back = _round_trip(message)
    _assert_same_event(back.event, message.event)
    assert back.event.props["OrchestrationInstance"] == {"InstanceId": INSTANCE, "ExecutionId": EXECUTION}
    assert back.event.props["ParentInstance"] is None
    assert back.event.props["Tags"] == {"tag1": "tagValue"}
    assert back.instance_id == INSTANCE
    assert back.execution_id == EXECUTION
    assert back.sender_instance_id == ""
    assert back.episode is None


def test_task_scheduled_round_trip_keeps_sender_and_episode() -> None:
    scheduled = HistoryEvent(
        EventType.TaskScheduled, 3, TS, False, {"Name": "Hello", "Version": "", "Input": '["\\"Tokyo\\""]'}
    )
    message = TaskMessage(
        scheduled, "inst", "exec1", sender_instance_id="inst", sender_execution_id="exec1", episode=2
    )
    back = _round_trip(message)
    _assert_same_event(back.event, scheduled)
    assert back.event.input == '["\\"Tokyo\\""]'
    assert (back.sender_instance_id, back.sender_execution_id, back.episode) == ("inst", "exec1", 2)


def test_task_completed_round_trip() -> None:
    completed = HistoryEvent(EventType.TaskCompleted, -1, TS, False, {"TaskScheduledId": 7, "Result": '"ok"'})
    back = _round_trip(TaskMessage(completed, "inst", "exec1"))
    _assert_same_event(back.event, completed)
    assert back.event.task_scheduled_id == 7


def test_timer_fired_round_trip_keeps_fire_at_as_datetime() -> None:
    fire_at = datetime(2024, 1, 1, 1, 0, 1, 123456, tzinfo=UTC)
    fired = HistoryEvent(EventType.TimerFired, -1, TS, False, {"TimerId": 4, "FireAt": fire_at})
    _, body, _ = encode(TaskMessage(fired, "inst", "exec1", visible_at=fire_at))
    assert json.loads(body)["TaskMessage"]["Event"]["FireAt"] == "2024-01-01T01:00:01.1234560Z"
    back = decode(body).message
    assert back is not None
    assert back.event.props["FireAt"] == fire_at
    assert isinstance(back.event.props["FireAt"], datetime)
    _assert_same_event(back.event, fired)


def test_event_raised_round_trip_with_null_execution_id() -> None:
    raised = HistoryEvent(EventType.EventRaised, -1, TS, False, {"Name": "Approval", "Input": '{"ok":true}'})
    _, body, _ = encode(TaskMessage(raised, "inst", None))
    assert json.loads(body)["TaskMessage"]["OrchestrationInstance"]["ExecutionId"] is None
    back = decode(body).message
    assert back is not None
    _assert_same_event(back.event, raised)
    assert back.execution_id is None


def test_encoded_json_has_the_reference_shape() -> None:
    activity_id, body, _ = encode(TaskMessage(_started(), INSTANCE, EXECUTION))
    ours = json.loads(body)
    reference = json.loads(REFERENCE_SAMPLE)
    assert ours["ActivityId"] == activity_id
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", activity_id)
    assert isinstance(ours["SequenceNumber"], int)
    assert ours["SequenceNumber"] > 0
    # every field except the per-message ids and the 7th fractional digit is exactly the reference's
    for tree in (ours, reference):
        tree.pop("ActivityId")
        tree.pop("SequenceNumber")
    assert ours["TaskMessage"]["Event"].pop("Timestamp") == "2023-03-24T20:53:05.9093510Z"
    reference["TaskMessage"]["Event"].pop("Timestamp")
    assert ours == reference
    assert "Episode" not in ours  # omitted when null


def test_encoded_type_annotations_and_enum_as_integer() -> None:
    _, body, _ = encode(TaskMessage(_started(), INSTANCE, EXECUTION, episode=1))
    data: dict[str, Any] = json.loads(body)
    assert data["$type"] == "DurableTask.AzureStorage.MessageData"
    task = data["TaskMessage"]
    assert task["$type"] == "DurableTask.Core.TaskMessage"
    assert task["OrchestrationInstance"]["$type"] == "DurableTask.Core.OrchestrationInstance"
    ev = task["Event"]
    assert ev["$type"] == "DurableTask.Core.History.ExecutionStartedEvent"
    assert ev["OrchestrationInstance"]["$type"] == "DurableTask.Core.OrchestrationInstance"
    assert ev["Tags"]["$type"] == TAGS_TYPE
    assert ev["EventType"] == 0
    assert type(ev["EventType"]) is int
    assert DOTNET_TIME.match(ev["Timestamp"])
    assert "$type" not in data["Sender"]
    assert data["Episode"] == 1


@pytest.mark.parametrize(
    ("event_type", "class_name"),
    [
        (EventType.TaskScheduled, "TaskScheduledEvent"),
        (EventType.TaskCompleted, "TaskCompletedEvent"),
        (EventType.TimerFired, "TimerFiredEvent"),
        (EventType.EventRaised, "EventRaisedEvent"),
        (EventType.ExecutionTerminated, "ExecutionTerminatedEvent"),
    ],
)
def test_event_type_names(event_type: EventType, class_name: str) -> None:
    _, body, _ = encode(TaskMessage(HistoryEvent(event_type, -1, TS), "i", "e"))
    ev = json.loads(body)["TaskMessage"]["Event"]
    assert ev["$type"] == f"DurableTask.Core.History.{class_name}"
    assert ev["EventType"] == int(event_type)


def test_decode_reference_sample() -> None:
    decoded = decode(REFERENCE_SAMPLE)
    assert decoded.activity_id == "5406d369-4369-4673-afae-6671a2fa1e57"
    assert decoded.sequence_number == 40
    assert decoded.compressed_blob_name is None
    message = decoded.message
    assert message is not None
    assert message.instance_id == INSTANCE
    assert message.execution_id == EXECUTION
    assert message.sender_instance_id == ""
    ev = message.event
    assert ev.event_type == EventType.ExecutionStarted
    assert ev.event_id == -1
    assert ev.is_played is False
    assert ev.timestamp == TS  # 7th digit dropped: Python has microseconds
    assert ev.name == "OrchestrationName"
    assert ev.get("Version") == "2.0"
    assert ev.input == "input"
    assert ev.get("Tags") == {"tag1": "tagValue"}
    assert ev.get("OrchestrationInstance") == {"InstanceId": INSTANCE, "ExecutionId": EXECUTION}
    assert ev.get("ParentInstance") is None
    assert ev.get("Generation") == 0


def test_base64_body_decodes() -> None:
    _, body, _ = encode(TaskMessage(_started(), INSTANCE, EXECUTION))
    b64 = base64.b64encode(body.encode("utf-8")).decode("ascii")
    decoded = decode(b64)
    assert decoded.message is not None
    assert decoded.message.event.name == "OrchestrationName"
    assert decode(base64.b64encode(REFERENCE_SAMPLE.encode()).decode()).sequence_number == 40


def test_blob_pointer_decodes_without_a_message() -> None:
    decoded = decode(encode_blob_pointer("inst/message-abc-ExecutionStarted.json.gz"))
    assert decoded.message is None
    assert decoded.compressed_blob_name == "inst/message-abc-ExecutionStarted.json.gz"


def test_non_ascii_payload_survives() -> None:
    raised = HistoryEvent(EventType.EventRaised, -1, TS, False, {"Name": "ü", "Input": '"日本"'})
    back = _round_trip(TaskMessage(raised, "インスタンス", None))
    assert back.instance_id == "インスタンス"
    assert back.event.input == '"日本"'


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json at all",
        "{not json",
        "[1, 2, 3]",
        base64.b64encode(b"[1]").decode(),
        base64.b64encode(b"\xff\xfe\x00").decode(),
        "{}",
        '{"TaskMessage": null, "CompressedBlobName": null}',
        '{"TaskMessage": {"Event": {"$type": "DurableTask.Core.History.NoSuchEvent"}}}',
    ],
)
def test_garbage_raises_message_format_error(body: str) -> None:
    with pytest.raises(MessageFormatError):
        decode(body)


@pytest.mark.parametrize(
    "body",
    [
        '{"TaskMessage": {"OrchestrationInstance": {"InstanceId": "x"}}}',
        '{"TaskMessage": {"Event": {"EventType": 99}}}',
        '{"TaskMessage": "x"}',
        '{"TaskMessage": {"Event": {"EventType": 5, "Timestamp": "yesterday"}}}',
    ],
)
def test_malformed_task_message_raises_message_format_error(body: str) -> None:
    with pytest.raises(MessageFormatError):
        decode(body)
