"""The status API's history: completions carry their scheduling; pending work only when asked for."""

from __future__ import annotations

import json

from durable_ext.core.history import EventType, event
from durable_ext.extension.status_payload import history_payload

EVENTS = [
    event(EventType.ExecutionStarted, Name="parent", Input='"go"'),
    event(EventType.TaskScheduled, 0, Name="done_step", Input=json.dumps(['"x"'])),
    event(EventType.TaskScheduled, 1, Name="slow_step", Input=json.dumps(['"y"'])),
    event(EventType.SubOrchestrationInstanceCreated, 2, Name="child", InstanceId="child-1", Input="1"),
    event(EventType.TaskCompleted, TaskScheduledId=0, Result='"X"'),
]


def test_scheduling_is_merged_into_completions_and_pending_work_is_hidden() -> None:
    items = history_payload(EVENTS, show_input=True, show_output=True)
    assert [i["EventType"] for i in items] == ["ExecutionStarted", "TaskCompleted"]
    completed = items[1]
    assert completed["FunctionName"] == "done_step" and completed["Input"] == "x"
    assert completed["Result"] == "X" and "ScheduledTime" in completed


def test_show_pending_adds_what_has_not_completed_yet_in_history_order() -> None:
    items = history_payload(EVENTS, show_input=True, show_output=False, show_pending=True)
    assert [i["EventType"] for i in items] == [
        "ExecutionStarted",
        "TaskScheduled",
        "SubOrchestrationInstanceCreated",
        "TaskCompleted",
    ]
    activity, child = items[1], items[2]
    assert (activity["FunctionName"], activity["EventId"], activity["Input"]) == ("slow_step", 1, "y")
    assert (child["FunctionName"], child["InstanceId"], child["Input"]) == ("child", "child-1", 1)
    without_input = history_payload(EVENTS, show_input=False, show_output=False, show_pending=True)
    assert all("Input" not in i for i in without_input)
