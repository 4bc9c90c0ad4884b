"""The exported history form: events and instances round-trip exactly; bad files say what is wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from durable_ext.core.history import EventType, HistoryEvent, OrchestrationStatus, execution_started
from durable_ext.core.history_json import (
    FORMAT_VERSION,
    RecordedHistory,
    event_from_json,
    event_to_json,
    file_name,
    read_history_file,
    write_history_file,
)
from durable_ext.core.state import OrchestrationState
from durable_ext.errors import ConfigurationError
from durable_ext.testing.replay import load_histories

T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def _events() -> list[HistoryEvent]:
    started = execution_started(
        instance_id="order/1",
        execution_id="e1",
        name="process_order",
        input_json='{"item":"book"}',
        parent={"Name": None, "OrchestrationInstance": {"InstanceId": "p", "ExecutionId": "pe"}},
        tags={"team": "a"},
        scheduled_start_time=T0 + timedelta(seconds=1),
        timestamp=T0,
    )
    fire_at = T0 + timedelta(minutes=5, microseconds=7)
    return [
        HistoryEvent(EventType.OrchestratorStarted, -1, T0, True, {}),
        started,
        HistoryEvent(
            EventType.TaskScheduled, 0, T0, False, {"Name": "reserve", "Version": "", "Input": "[1]"}
        ),
        HistoryEvent(EventType.TimerCreated, 1, T0, False, {"FireAt": fire_at}),
        HistoryEvent(EventType.TimerFired, -1, T0, False, {"TimerId": 1, "FireAt": fire_at}),
        HistoryEvent(
            EventType.TaskFailed, -1, T0, False, {"TaskScheduledId": 0, "Reason": "x", "Details": None}
        ),
        HistoryEvent(EventType.ExecutionCompleted, -1, T0, False, {"OrchestrationStatus": 3, "Result": "x"}),
    ]


def test_every_event_round_trips_exactly_through_json_text() -> None:
    for original in _events():
        text = json.dumps(event_to_json(original))
        assert event_from_json(json.loads(text)) == original


def test_the_form_is_readable() -> None:
    timer = event_to_json(_events()[3])
    assert timer == {
        "EventType": "TimerCreated",
        "EventId": 1,
        "Timestamp": "2024-05-06T07:08:09.123456Z",
        "IsPlayed": False,
        "props": {"FireAt": "2024-05-06T07:13:09.123463Z"},
    }


def test_an_instance_round_trips_with_its_status_and_version() -> None:
    state = OrchestrationState(
        "order/1",
        "process_order",
        OrchestrationStatus.Failed,
        execution_id="e1",
        input='{"item":"book"}',
        output="x",
        created_time=T0,
        last_updated_time=T0 + timedelta(seconds=3),
    )
    history = RecordedHistory.of(state, _events())
    body = json.loads(json.dumps(history.to_json()))
    assert body["formatVersion"] == FORMAT_VERSION and body["runtimeStatus"] == "Failed"
    assert RecordedHistory.from_json(body) == history


def test_a_history_from_its_events_alone() -> None:
    history = RecordedHistory.from_events(_events())
    assert (history.instance_id, history.name, history.runtime_status) == (
        "order/1",
        "process_order",
        "Failed",
    )
    assert history.input == '{"item":"book"}'


def test_files_are_named_for_their_instance_safely(tmp_path: Path) -> None:
    assert file_name("order-1") == "order-1.json"
    unsafe = file_name("../a b")
    assert "/" not in unsafe and not unsafe.startswith(".") and unsafe.endswith(".json")
    assert file_name("a b") != file_name("a_b")  # cleaned names keep apart
    history = RecordedHistory.from_events(_events())
    path = write_history_file(history, tmp_path)
    assert path.parent == tmp_path
    assert read_history_file(path) == [history]


def test_bad_files_name_the_file_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "gone.json"
    with pytest.raises(ConfigurationError, match=r"gone\.json' does not exist"):
        read_history_file(missing)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigurationError, match=r"broken\.json' is not valid JSON"):
        read_history_file(broken)
    other = tmp_path / "other.json"
    other.write_text('{"history": []}')
    with pytest.raises(ConfigurationError, match=r"not an exported history.*export-history"):
        read_history_file(other)
    newer = tmp_path / "newer.json"
    body = RecordedHistory.from_events(_events()).to_json() | {"formatVersion": FORMAT_VERSION + 1}
    newer.write_text(json.dumps(body))
    with pytest.raises(ConfigurationError, match="Upgrade durable-ext"):
        read_history_file(newer)
    bad_event = tmp_path / "bad_event.json"
    body = RecordedHistory.from_events(_events()).to_json() | {"history": [{"EventType": "Nope"}]}
    bad_event.write_text(json.dumps(body))
    with pytest.raises(ConfigurationError, match=r"bad_event\.json"):
        read_history_file(bad_event)


def test_every_form_the_replay_api_accepts(tmp_path: Path) -> None:
    history = RecordedHistory.from_events(_events())
    other = RecordedHistory.from_events([e.copy() for e in _events()])
    folder = tmp_path / "export"
    folder.mkdir()
    write_history_file(history, folder)
    listed = tmp_path / "both.json"
    listed.write_text(json.dumps([history.to_json(), other.to_json()]))
    assert load_histories(history) == [history]
    assert load_histories(history.to_json()) == [history]
    assert load_histories(str(folder)) == [history]
    assert load_histories(listed) == [history, other]
    assert load_histories(_events()) == [history]
    assert load_histories([history, history.to_json()]) == [history, history]
    with pytest.raises(TypeError, match="mixes history events"):
        load_histories([history, _events()[0]])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Cannot replay a int"):
        load_histories(3)  # type: ignore[arg-type]
