"""Rewinding failed instances: the history rewrite both providers share (``core.rewind``), applied to the
memory provider's histories."""

from __future__ import annotations

from datetime import UTC, datetime

from durable_ext.core.client import TaskHubClient
from durable_ext.core.history import EventType, HistoryEvent, OrchestrationStatus, execution_started
from durable_ext.core.rewind import apply_rewind, forget_child, plan_rewind
from durable_ext.core.state import OrchestrationState
from durable_ext.memory.service import MemoryOrchestrationService
from durable_ext.memory.settings import MemorySettings

T0 = datetime(2025, 1, 1, tzinfo=UTC)
FAILED = int(OrchestrationStatus.Failed)


def _e(event_type: EventType, event_id: int = -1, **props: object) -> HistoryEvent:
    return HistoryEvent(event_type, event_id, T0, False, dict(props))


def _failed_parent(child: str) -> list[HistoryEvent]:
    return [
        _e(EventType.OrchestratorStarted),
        execution_started(instance_id="p", execution_id="pe", name="Parent", input_json=None, timestamp=T0),
        _e(EventType.TaskScheduled, 0, Name="ok"),
        _e(EventType.TaskScheduled, 1, Name="bad"),
        _e(EventType.SubOrchestrationInstanceCreated, 2, Name="Child", InstanceId=child),
        _e(EventType.OrchestratorCompleted),
        _e(EventType.OrchestratorStarted),
        _e(EventType.TaskCompleted, TaskScheduledId=0, Result="1"),
        _e(EventType.TaskFailed, TaskScheduledId=1, Reason="bad failed"),
        _e(EventType.SubOrchestrationInstanceFailed, TaskScheduledId=2, Reason="child failed"),
        _e(EventType.ExecutionCompleted, OrchestrationStatus=FAILED, Result="bad failed"),
        _e(EventType.OrchestratorCompleted),
    ]


def _failed_child() -> list[HistoryEvent]:
    return [
        _e(EventType.OrchestratorStarted),
        execution_started(instance_id="c", execution_id="ce", name="Child", input_json=None, timestamp=T0),
        _e(EventType.TaskScheduled, 0, Name="flaky"),
        _e(EventType.OrchestratorCompleted),
        _e(EventType.OrchestratorStarted),
        _e(EventType.TaskFailed, TaskScheduledId=0, Reason="flaky failed"),
        _e(EventType.ExecutionCompleted, OrchestrationStatus="Failed", Result="flaky failed"),
        _e(EventType.OrchestratorCompleted),
    ]


def test_failures_and_failed_tasks_become_generic_events_and_children_are_marked() -> None:
    events = _failed_parent("c")
    plan = plan_rewind(events)
    assert plan.rewrites == {3: True, 8: True, 4: False, 9: True, 10: True}
    assert plan.children == ["c"]
    rewound = apply_rewind(events, plan)
    assert [(e.event_type, e.event_id) for e in rewound][3:5] == [
        (EventType.GenericEvent, 1),
        (EventType.SubOrchestrationInstanceCreated, 2),
    ]
    assert rewound[3].get("Reason") == "Rewound: TaskScheduled" and rewound[3].name == "bad"
    assert rewound[4].get("Reason") == "Rewound: SubOrchestrationInstanceCreated"
    assert [e.get("Reason") for e in rewound[8:11]] == [
        "Rewound: TaskFailed",
        "Rewound: SubOrchestrationInstanceFailed",
        "Rewound: ExecutionCompleted",
    ]
    assert rewound[2] is events[2]  # what succeeded stays as it was
    assert events[3].event_type == EventType.TaskScheduled  # the original history is not changed


def test_a_child_whose_history_is_gone_is_created_afresh() -> None:
    events = _failed_parent("gone")
    plan = plan_rewind(events)
    forget_child(events, "gone", plan)
    assert plan.rewrites[4] is True
    assert plan_rewind(_failed_child()).rewrites == {2: True, 5: True, 6: True}  # a status by name counts


async def test_the_memory_provider_rewinds_the_tree_and_wakes_the_failed_leaf() -> None:
    service = MemoryOrchestrationService(MemorySettings(hub_name="rewind"))
    for instance_id, history in (("p", _failed_parent("c")), ("c", _failed_child())):
        record = service.hub.record(instance_id)
        record.history = history
        record.state = OrchestrationState(instance_id, history[1].name or "", OrchestrationStatus.Failed)
    await TaskHubClient(service).rewind("p", "try again")

    for instance_id in ("p", "c"):
        state = await service.get_state(instance_id)
        assert state is not None and state.status == OrchestrationStatus.Pending
    child = await service.get_history("c")
    assert [e.event_type for e in child].count(EventType.GenericEvent) == 3
    assert [m.message.event_type for m in service.hub.records["c"].inbox] == [EventType.GenericEvent]
    assert service.hub.records["c"].inbox[0].message.event.get("Data") == "try again"
    assert service.hub.records["p"].inbox == []  # the parent waits for its child
    assert service.hub.records["p"].version == 1  # an episode running on the old history cannot commit
