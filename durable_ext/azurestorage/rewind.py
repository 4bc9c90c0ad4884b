"""Rewinding a failed instance on Azure Storage: the History rows of :mod:`durable_ext.core.rewind`.

The rewind itself (which events become ``GenericEvent`` rows, which failed children are rewound too,
which leaves are woken) is the core's; here the current execution's rows are read with their ETags
and rewritten in place by merges (row keys and ``EventId`` stay), a batch per transaction, and the
Instances row of every rewound instance becomes ``Pending``.
"""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from ..core.history import EventType, HistoryEvent
from ..core.rewind import REWOUND_PREFIX, RewindPlan, rewind_instances
from ..errors import ConcurrencyConflictError
from . import checkpoint
from .clients import translated
from .instance_store import InstanceStore
from .names import escape_key
from .table_codec import from_row

MAX_ROWS_PER_TRANSACTION = 100


class HistoryRewinder:
    def __init__(self, history_table: TableClient, instances: InstanceStore) -> None:
        self.table = history_table
        self.instances = instances

    async def rewind(self, instance_id: str) -> list[str]:
        """Rewind the instance and its failed sub-orchestrations; return the failed leaves to wake."""
        return await rewind_instances(instance_id, _RowRewind(self))

    async def current_execution_rows(self, instance_id: str) -> list[dict[str, Any]]:
        """History rows of the execution the sentinel names, in order, with their ETags."""
        async with translated(f"Loading the history of instance '{instance_id}' to rewind it"):
            query = self.table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": escape_key(instance_id)}
            )
            rows = [dict(row) | {"etag": row.metadata.get("etag")} async for row in query]
        return checkpoint.current_execution(rows)[1]

    async def submit(self, instance_id: str, ops: list[Any]) -> None:
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


class _RowRewind:
    """One rewind's view of the History table: the rows it read, to rewrite them by their ETags."""

    def __init__(self, rewinder: HistoryRewinder) -> None:
        self.rewinder = rewinder
        self.rows: dict[str, list[dict[str, Any]]] = {}

    async def current_execution(self, instance_id: str) -> list[HistoryEvent]:
        rows = await self.rewinder.current_execution_rows(instance_id)
        self.rows[instance_id] = rows
        return [from_row(row) for row in rows]

    async def rewrite(self, instance_id: str, plan: RewindPlan) -> None:
        rows = self.rows[instance_id]
        ops = [
            _as_generic(rows[position]) if generic else _marked(rows[position])
            for position, generic in plan.rewrites.items()
        ]
        await self.rewinder.submit(instance_id, ops)

    async def mark_pending(self, instance_id: str) -> None:
        await self.rewinder.instances.mark_pending(instance_id)


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
