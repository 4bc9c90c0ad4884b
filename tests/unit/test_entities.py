"""Entity ids, request messages and the scheduler state in the reference's JSON shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from durable_ext.core.entities import EntityId, RequestMessage, SchedulerState, scheduled_request_event
from durable_ext.errors import InvalidEntityIdError
from durable_ext.extension.http_entities import operation_input


def test_entity_ids_lower_case_the_name_and_keep_the_key() -> None:
    entity = EntityId.of("Counter", "Key@With@Ats")
    assert entity.instance_id == "@counter@Key@With@Ats"
    assert EntityId.parse(entity.instance_id) == entity


@pytest.mark.parametrize(
    ("name", "key", "fragment"),
    [("", "k", "name is empty"), ("a@b", "k", "'a@b'"), ("a/b", "k", "'a/b'"), ("counter", "", "key")],
)
def test_malformed_entity_ids_name_what_is_wrong(name: str, key: str, fragment: str) -> None:
    with pytest.raises(InvalidEntityIdError, match=fragment):
        EntityId.of(name, key)


def test_parse_rejects_orchestration_ids() -> None:
    with pytest.raises(InvalidEntityIdError, match="not an entity instance id"):
        EntityId.parse("plain-id")


def test_request_message_round_trip_keeps_unknown_fields() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    request = RequestMessage(
        "add", "id-1", is_signal=True, input='"5"', parent_instance_id="p", timestamp=when
    )
    data = request.to_dict()
    assert data["op"] == "add" and data["signal"] is True and data["input"] == '"5"'
    assert data["Timestamp"] == "2026-01-02T03:04:05.1234560Z"
    assert data["Predecessor"] == "0001-01-01T00:00:00"
    data["parentTraceContext"] = {"traceId": "t"}
    again = RequestMessage.from_dict(data)
    assert again.timestamp == when and again.predecessor is None
    assert again.to_dict()["parentTraceContext"] == {"traceId": "t"}


def test_scheduler_state_omits_defaults_like_the_reference() -> None:
    assert json.loads(SchedulerState().to_json()) == {"sorter": {}}
    state = SchedulerState(exists=True, state="8", queue=[RequestMessage("get", "r1")])
    loaded = SchedulerState.from_json(state.to_json())
    assert loaded.exists and loaded.state == "8" and [r.id for r in loaded.queue] == ["r1"]
    assert SchedulerState.from_json(None).is_empty


def test_scheduled_event_names_carry_the_due_time() -> None:
    due = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert scheduled_request_event(due) == "op@2026-05-06T07:08:09.0000000Z"


@pytest.mark.parametrize(
    ("body", "content_type", "value"),
    [
        ('"5"', "application/json", 5),  # the SDK client: JSON of the JSON text
        ("5", "application/json", 5),
        ('{"a": 1}', "application/json", {"a": 1}),
        ('"hello"', "application/json", "hello"),
        ("plain text", "text/plain", "plain text"),
        ("[1, 2]", "text/plain", [1, 2]),
    ],
)
def test_signal_bodies_become_what_get_input_returns(body: str, content_type: str, value: object) -> None:
    stored = operation_input(body, content_type)
    assert stored is not None
    assert json.loads(json.loads(stored)) == value  # the SDK's get_input decodes twice


def test_an_empty_signal_body_is_no_input() -> None:
    assert operation_input("  ", "application/json") is None
