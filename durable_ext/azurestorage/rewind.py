"""Rewinding a failed instance: DurableTask.AzureStorage's legacy ``RewindHistoryAsync``.

In the current execution's history, each failure row (``TaskFailed``, ``SubOrchestrationInstanceFailed``,
the failed ``ExecutionCompleted``) and the ``TaskScheduled`` of each failed activity become
``GenericEvent`` rows with ``Reason = "Rewound: <original type>"``; row keys and ``EventId`` stay. Replay
ignores generic events, so the orchestrator schedules the failed activity again under the same id.
A failed sub-orchestration is rewound the same way, recursively; its ``SubOrchestrationInstanceCreated``
row stays (only marked in ``Reason``), so the parent waits for the rewound child to complete. The
Instances row of every rewound instance becomes ``Pending``. The instances to wake with a
``GenericEvent`` message are the failed leaves: those without failed sub-orchestrations of their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from ..core.history import EventType, OrchestrationStatus
from ..errors import ConcurrencyConflictError
from . import checkpoint
from .clients import translated
from .instance_store import InstanceStore
from .names import escape_key

log = logging.getLogger("durable_ext.rewind")

MAX_ROWS_PER_TRANSACTION = 100
REWOUND_PREFIX = "Rewound: "


@dataclass
class _Rewrites:
    """The row changes of one instance's rewind, and the failed children to rewind as well."""

    ops: dict[str, Any] = field(default_factory=dict)
    """One operation per RowKey."""
    children: list[str] = field(default_factory=list)

    def add(self, op: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
        self.ops[op[1]["RowKey"]] = op


class HistoryRewinder:
    def __init__(self, history_table: TableClient, instances: InstanceStore) -> None:
        self.table = history_table
        self.instances = instances

    async def rewind(self, instance_id: str) -> list[str]:
        """Rewind the instance and its failed sub-orchestrations; return the failed leaves to wake."""
        leaves: list[str] = []
        await self._rewind(instance_id, leaves, set())
        return leaves

    async def _rewind(self, instance_id: str, leaves: list[str], seen: set[str]) -> None:
        seen.add(instance_id)
        rows = await self._current_execution_rows(instance_id)
        rewrites = _plan(rows)
        live_children: list[str] = []
        for child in rewrites.children:
            if child in seen:
                continue
            if await self._current_execution_rows(child):
                live_children.append(child)
            else:  # the child's history is gone: let the parent schedule it again instead
                _forget_child(rows, child, rewrites)
        await self._submit(instance_id, list(rewrites.ops.values()))
        for child in live_children:
            await self._rewind(child, leaves, seen)
        await self.instances.mark_pending(instance_id)
        if not live_children:
            leaves.append(instance_id)
        log.info("Rewound instance '%s' (%d history rows rewritten)", instance_id, len(rewrites.ops))

    async def _current_execution_rows(self, instance_id: str) -> list[dict[str, Any]]:
        """History rows of the execution the sentinel names, in order, with their ETags."""
        async with translated(f"Loading the history of instance '{instance_id}' to rewind it"):
            query = self.table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": escape_key(instance_id)}
            )
            rows = [dict(row) | {"etag": row.metadata.get("etag")} async for row in query]
        return checkpoint.current_execution(rows)[1]

    async def _submit(self, instance_id: str, ops: list[Any]) -> None:
        for start in range(0, len(ops), MAX_ROWS_PER_TRANSACTION):
            chunk = ops[start : start + MAX_ROWS_PER_TRANSACTION]
            try:
                async with translated(f"Rewriting the history of instance '{instance_id}' for its rewind"):
                    await self.table.submit_transaction(chunk)
            except Exception as exc:
                if getattr(exc.__cause__, "status_code", None) in (409, 412):
                    raise ConcurrencyConflictError(
                        f"The history of instance '{instance_id}' changed while it was being rewound; "
                        "check its status and rewind it again."
                    ) from exc
                raise


def _plan(rows: list[dict[str, Any]]) -> _Rewrites:
    rewrites = _Rewrites()
    by_event = {(str(r.get("EventType")), _int(r.get("EventId"))): r for r in rows}
    for row in rows:
        kind = str(row.get("EventType"))
        if kind == EventType.TaskFailed.name:
            scheduled = by_event.get((EventType.TaskScheduled.name, _int(row.get("TaskScheduledId"))))
            if scheduled is not None:
                rewrites.add(_as_generic(scheduled))
            rewrites.add(_as_generic(row))
        elif kind == EventType.SubOrchestrationInstanceFailed.name:
            key = (EventType.SubOrchestrationInstanceCreated.name, _int(row.get("TaskScheduledId")))
            created = by_event.get(key)
            if created is not None:
                rewrites.add(_marked(created))
                rewrites.children.append(str(created.get("InstanceId")))
            rewrites.add(_as_generic(row))
        elif kind == EventType.ExecutionCompleted.name and _failed(row):
            rewrites.add(_as_generic(row))
    return rewrites


def _forget_child(rows: list[dict[str, Any]], child: str, rewrites: _Rewrites) -> None:
    """Turn the child's ``SubOrchestrationInstanceCreated`` into a generic event too (instead of only
    marking it), so the parent's replay creates the child afresh."""
    for row in rows:
        if row.get("EventType") == EventType.SubOrchestrationInstanceCreated.name and (
            str(row.get("InstanceId")) == child
        ):
            rewrites.add(_as_generic(row))


def _failed(row: dict[str, Any]) -> bool:
    status = row.get("OrchestrationStatus")
    return status in (OrchestrationStatus.Failed.name, int(OrchestrationStatus.Failed))


def _int(value: Any) -> int:
    value = getattr(value, "value", value)
    return int(value) if value is not None else -1


def _merge_op(row: dict[str, Any], fields: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    entity = {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"], **fields}
    options = {
        "mode": UpdateMode.MERGE,
        "etag": row["etag"],
        "match_condition": MatchConditions.IfNotModified,
    }
    return ("update", entity, options)


def _as_generic(row: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    reason = REWOUND_PREFIX + str(row.get("EventType"))
    return _merge_op(row, {"EventType": EventType.GenericEvent.name, "Reason": reason})


def _marked(row: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    return _merge_op(row, {"Reason": REWOUND_PREFIX + str(row.get("EventType"))})
