"""Rewinding a failed instance: DurableTask.AzureStorage's legacy ``RewindHistoryAsync``, on any store.

In the current execution's history, each failure (``TaskFailed``, ``SubOrchestrationInstanceFailed``,
the failed ``ExecutionCompleted``) and the ``TaskScheduled`` of each failed activity become
``GenericEvent`` events with ``Reason = "Rewound: <original type>"``; their position and ``EventId``
stay. Replay ignores generic events, so the orchestrator schedules the failed activity again under the
same id. A failed sub-orchestration is rewound the same way, recursively; its
``SubOrchestrationInstanceCreated`` stays (only marked in ``Reason``), so the parent waits for the
rewound child to complete. The status of every rewound instance becomes ``Pending``. The instances to
wake with a ``GenericEvent`` message are the failed leaves: those without failed sub-orchestrations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .history import EventType, HistoryEvent, OrchestrationStatus

log = logging.getLogger("durable_ext.rewind")

REWOUND_PREFIX = "Rewound: "


@dataclass
class RewindPlan:
    """What one instance's rewind changes in its history, and the failed children to rewind as well."""

    rewrites: dict[int, bool] = field(default_factory=dict)
    """Position in the history -> True when the event becomes a ``GenericEvent``, False when it is only
    marked in ``Reason``. One rewrite per position; a later one replaces an earlier one."""
    children: list[str] = field(default_factory=list)

    def add(self, position: int, generic: bool) -> None:
        self.rewrites[position] = generic


class RewindStore(Protocol):
    """What a provider offers a rewind: one instance's current execution, read and rewritten."""

    async def current_execution(self, instance_id: str) -> list[HistoryEvent]:
        """The events of the instance's current execution (empty when it has no history)."""
        ...

    async def rewrite(self, instance_id: str, plan: RewindPlan) -> None:
        """Apply ``plan`` to the events :meth:`current_execution` last returned for the instance."""
        ...

    async def mark_pending(self, instance_id: str) -> None: ...


async def rewind_instances(instance_id: str, store: RewindStore) -> list[str]:
    """Rewind the instance and its failed sub-orchestrations; return the failed leaves to wake."""
    leaves: list[str] = []
    await _rewind(instance_id, store, leaves, set())
    return leaves


async def _rewind(instance_id: str, store: RewindStore, leaves: list[str], seen: set[str]) -> None:
    seen.add(instance_id)
    events = await store.current_execution(instance_id)
    plan = plan_rewind(events)
    live_children: list[str] = []
    for child in plan.children:
        if child in seen:
            continue
        if await store.current_execution(child):
            live_children.append(child)
        else:  # the child's history is gone: let the parent schedule it again instead
            forget_child(events, child, plan)
    await store.rewrite(instance_id, plan)
    for child in live_children:
        await _rewind(child, store, leaves, seen)
    await store.mark_pending(instance_id)
    if not live_children:
        leaves.append(instance_id)
    log.info("Rewound instance '%s' (%d history events rewritten)", instance_id, len(plan.rewrites))


def plan_rewind(events: Sequence[HistoryEvent]) -> RewindPlan:
    plan = RewindPlan()
    by_event = {(e.event_type, _id(e.event_id)): i for i, e in enumerate(events)}
    for position, e in enumerate(events):
        if e.event_type == EventType.TaskFailed:
            scheduled = by_event.get((EventType.TaskScheduled, _id(e.get("TaskScheduledId"))))
            if scheduled is not None:
                plan.add(scheduled, True)
            plan.add(position, True)
        elif e.event_type == EventType.SubOrchestrationInstanceFailed:
            created = by_event.get((EventType.SubOrchestrationInstanceCreated, _id(e.get("TaskScheduledId"))))
            if created is not None:
                plan.add(created, False)
                plan.children.append(str(events[created].get("InstanceId")))
            plan.add(position, True)
        elif e.event_type == EventType.ExecutionCompleted and _failed(e):
            plan.add(position, True)
    return plan


def forget_child(events: Sequence[HistoryEvent], child: str, plan: RewindPlan) -> None:
    """Turn the child's ``SubOrchestrationInstanceCreated`` into a generic event too (instead of only
    marking it), so the parent's replay creates the child afresh."""
    for position, e in enumerate(events):
        if e.event_type == EventType.SubOrchestrationInstanceCreated and str(e.get("InstanceId")) == child:
            plan.add(position, True)


def rewound(event: HistoryEvent, generic: bool) -> HistoryEvent:
    """The event as the rewind leaves it: marked in ``Reason``, and a ``GenericEvent`` if ``generic``."""
    copy = event.copy()
    copy.props["Reason"] = REWOUND_PREFIX + event.event_type.name
    if generic:
        copy.event_type = EventType.GenericEvent
    return copy


def apply_rewind(events: Sequence[HistoryEvent], plan: RewindPlan) -> list[HistoryEvent]:
    return [
        rewound(e, plan.rewrites[position]) if position in plan.rewrites else e
        for position, e in enumerate(events)
    ]


def _failed(event: HistoryEvent) -> bool:
    status = event.get("OrchestrationStatus")
    return status in (OrchestrationStatus.Failed.name, int(OrchestrationStatus.Failed))


def _id(value: Any) -> int:
    return int(value) if value is not None else -1
