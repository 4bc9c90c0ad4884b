"""History events <-> History table rows (reference §3.1, §3.2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from azure.data.tables import EdmType, EntityProperty

from durable_ext.azurestorage.table_codec import SENTINEL_ROW_KEY, from_row, row_key, to_row
from durable_ext.core.history import EventType, HistoryEvent, OrchestrationStatus, execution_started

TS = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def _as_stored(row: dict[str, Any]) -> dict[str, Any]:
    """What a table read gives back: typed values arrive as plain Python values."""
    return {k: v.value if isinstance(v, EntityProperty) else v for k, v in row.items()}


def _without_nones(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if v is not None}


def _ev(event_type: EventType, event_id: int = -1, **props: Any) -> HistoryEvent:
    return HistoryEvent(event_type, event_id, TS, True, props)


CASES: list[HistoryEvent] = [
    execution_started(
        instance_id="inst/1",
        execution_id="e1",
        name="Hello",
        input_json='"\\"Tokyo\\""',
        tags={"k": "v"},
        parent={
            "Name": None,
            "OrchestrationInstance": {"InstanceId": "parent", "ExecutionId": "pe"},
            "TaskScheduleId": 2,
            "Version": "",
        },
        generation=3,
        scheduled_start_time=datetime(2024, 5, 7, tzinfo=UTC),
        timestamp=TS,
    ),
    _ev(EventType.OrchestratorStarted),
    _ev(EventType.TaskScheduled, 0, Name="Hello", Version="", Input='["\\"Tokyo\\""]'),
    _ev(EventType.TaskCompleted, -1, TaskScheduledId=0, Result='"Hello Tokyo"'),
    _ev(EventType.TaskFailed, -1, TaskScheduledId=1, Reason="boom", Details='{"Message":"x"}'),
    _ev(EventType.SubOrchestrationInstanceCreated, 2, Name="child", Version="", InstanceId="c1", Input="1"),
    _ev(EventType.SubOrchestrationInstanceCompleted, -1, TaskScheduledId=2, Result="[1,2]"),
    _ev(EventType.SubOrchestrationInstanceFailed, -1, TaskScheduledId=2, Reason="r", Details="d"),
    _ev(EventType.TimerCreated, 3, FireAt=datetime(2024, 5, 6, 8, 0, 0, 1, tzinfo=UTC)),
    _ev(EventType.TimerFired, -1, TimerId=3, FireAt=datetime(2024, 5, 6, 8, 0, 0, 1, tzinfo=UTC)),
    _ev(EventType.EventSent, 4, InstanceId="@counter@k", Name="op", Input='{"id":"g"}'),
    _ev(EventType.EventRaised, -1, Name="Approval", Input='{"ok":true}'),
    _ev(EventType.ExecutionTerminated, -1, Input='"stop"'),
    _ev(EventType.ExecutionSuspended, -1, Reason="pause"),
    _ev(EventType.ExecutionResumed, -1, Reason="go"),
    _ev(
        EventType.ExecutionCompleted,
        -1,
        OrchestrationStatus=int(OrchestrationStatus.Failed),
        Result="Orchestrator function 'x' failed: boom",
        FailureDetails=None,
    ),
    _ev(EventType.OrchestratorCompleted),
]


@pytest.mark.parametrize("event", CASES, ids=[e.event_type.name for e in CASES])
def test_round_trip_per_event_type(event: HistoryEvent) -> None:
    row = to_row("inst/1", "e1", 10, event)
    back = from_row(_as_stored(row))
    assert back.event_type == event.event_type
    assert back.event_id == event.event_id
    assert back.is_played == event.is_played
    assert back.timestamp == event.timestamp
    assert back.props == _without_nones(event.props)


@pytest.mark.parametrize("event", CASES, ids=[e.event_type.name for e in CASES])
def test_common_columns(event: HistoryEvent) -> None:
    row = to_row("inst/1", "e1", 10, event)
    assert row["PartitionKey"] == "inst^01"
    assert row["RowKey"] == "000000000000000A"
    assert row["ExecutionId"] == "e1"
    assert row["EventType"] == event.event_type.name
    assert row["EventId"] == EntityProperty(event.event_id, EdmType.INT32)
    assert row["IsPlayed"] is event.is_played
    assert row["_Timestamp"] == event.timestamp
    assert "Timestamp" not in row  # reserved: stored as _Timestamp


def test_row_key_is_16_uppercase_hex_digits() -> None:
    assert row_key(0) == "0000000000000000"
    assert row_key(10) == "000000000000000A"
    assert row_key(255) == "00000000000000FF"
    assert row_key(0xABCDEF) == "0000000000ABCDEF"
    keys = [row_key(i) for i in range(300)]
    assert keys == sorted(keys)
    assert all(k < SENTINEL_ROW_KEY for k in keys)  # the sentinel sorts last


def test_execution_started_json_columns() -> None:
    row = to_row("inst", "e1", 0, CASES[0])
    assert isinstance(row["OrchestrationInstance"], str)
    assert json.loads(row["OrchestrationInstance"]) == {"InstanceId": "inst/1", "ExecutionId": "e1"}
    assert json.loads(row["Tags"]) == {"k": "v"}
    parent = json.loads(row["ParentInstance"])
    assert parent["OrchestrationInstance"] == {"InstanceId": "parent", "ExecutionId": "pe"}
    assert row["Generation"] == EntityProperty(3, EdmType.INT32)
    assert row["Name"] == "Hello"
    assert row["Version"] == ""
    assert row["ScheduledStartTime"] == datetime(2024, 5, 7, tzinfo=UTC)
    # None-valued props are not written at all
    assert "Correlation" not in row


def test_orchestration_status_is_a_name_in_the_table_and_an_int_in_memory() -> None:
    completed = _ev(EventType.ExecutionCompleted, -1, OrchestrationStatus=int(OrchestrationStatus.Completed))
    row = to_row("i", "e", 5, completed)
    assert row["OrchestrationStatus"] == "Completed"
    back = from_row(_as_stored(row))
    assert back.props["OrchestrationStatus"] == 1
    assert back.props["OrchestrationStatus"] == OrchestrationStatus.Completed
    assert type(back.props["OrchestrationStatus"]) is int


def test_task_ids_are_int32() -> None:
    row = to_row("i", "e", 0, CASES[3])
    assert row["TaskScheduledId"] == EntityProperty(0, EdmType.INT32)
    row = to_row("i", "e", 0, CASES[9])
    assert row["TimerId"] == EntityProperty(3, EdmType.INT32)


def test_datetimes_come_back_as_utc() -> None:
    # the table SDK may hand back date-times in another zone; the codec normalises to UTC
    plus2 = timezone(timedelta(hours=2))
    row = _as_stored(to_row("i", "e", 0, CASES[8]))
    row["FireAt"] = row["FireAt"].astimezone(plus2)
    row["_Timestamp"] = row["_Timestamp"].astimezone(plus2)
    back = from_row(row)
    assert back.props["FireAt"].utcoffset() == timedelta(0)
    assert back.props["FireAt"] == datetime(2024, 5, 6, 8, 0, 0, 1, tzinfo=UTC)
    assert back.timestamp.utcoffset() == timedelta(0)


def test_extra_table_columns_are_not_props() -> None:
    row = _as_stored(to_row("i", "e", 0, CASES[3]))
    row["Timestamp"] = datetime.now(UTC)  # the system column
    row["etag"] = 'W/"x"'
    back = from_row(row)
    assert set(back.props) == {"TaskScheduledId", "Result"}


def test_from_row_accepts_to_row_output_directly() -> None:
    back = from_row(to_row("i", "e", 0, CASES[3]))
    assert back.event_id == -1
