"""The History table: load the current execution's events, commit an episode under the sentinel ETag."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.data.tables import TableEntity
from azure.data.tables.aio import TableClient

from ..core.history import LARGE_PROPS, HistoryEvent
from ..errors import ConcurrencyConflictError
from . import checkpoint, table_batch, table_codec
from .clients import translated
from .large_payloads import LargePayloads, property_blob_name, property_too_large
from .lean_table import lean_table
from .names import escape_key
from .table_batch import BatchOperation

BLOB_NAME_SUFFIX = "BlobName"
MAX_ROWS_PER_BATCH = 99  # + the sentinel = 100 operations, the entity group transaction limit
MAX_BATCH_BYTES = 3 * 1024 * 1024


@dataclass
class LoadedHistory:
    events: list[HistoryEvent]
    execution_id: str | None
    etag: str | None
    """The sentinel row's ETag; ``None`` when the instance has no history yet."""
    status_written: tuple[str | None, str] | None = None
    """``(execution id, custom status)`` this worker last wrote to the Instances row; ``None`` if unknown."""
    consumed: dict[str, datetime] = field(default_factory=dict)
    """Queue messages the commits consumed and may not have deleted (see ``checkpoint``)."""


class HistoryStore:
    def __init__(self, table: TableClient, payloads: LargePayloads | None = None) -> None:
        self.table = table
        self.lean = lean_table(table)
        """The table's lean request path; ``None``: the SDK client's."""
        self.payloads = payloads

    def _query(self, pk: str, select: list[str] | None = None) -> AsyncIterator[TableEntity]:
        if self.lean is not None:
            return self.lean.query("PartitionKey eq @pk", {"pk": pk}, select)
        return self.table.query_entities("PartitionKey eq @pk", parameters={"pk": pk}, select=select)

    async def load(self, instance_id: str) -> LoadedHistory:
        """Events of the current execution (the one the sentinel names), in order."""
        rows: list[dict[str, Any]] = []
        async with translated(f"Loading the history of instance '{instance_id}'"):
            query = self._query(escape_key(instance_id))
            rows = [dict(row) | {"etag": row.metadata.get("etag")} async for row in query]
        if not rows:
            return LoadedHistory([], None, None)
        sentinel, current = checkpoint.current_execution(rows)
        await asyncio.gather(*(self._fetch_blobs(row) for row in current))
        events = [table_codec.from_row(row) for row in current]
        execution_id = (sentinel or {}).get("ExecutionId") or (current[0]["ExecutionId"] if current else None)
        return LoadedHistory(
            events,
            execution_id,
            sentinel["etag"] if sentinel else None,
            consumed=checkpoint.consumed_messages(sentinel),
        )

    async def commit(
        self,
        instance_id: str,
        execution_id: str,
        first_sequence_number: int,
        new_events: list[HistoryEvent],
        etag: str | None,
        consumed: dict[str, datetime] | None = None,
        previous_length: int | None = None,
    ) -> str:
        """Write ``new_events`` after ``first_sequence_number`` rows; return the sentinel's new ETag.

        Raises :class:`ConcurrencyConflictError` when someone else committed first (the sentinel's ETag
        changed, or it was created by another writer). An episode of more than one transaction's rows
        is written last rows first: until the transaction with its first rows, which also switches the
        sentinel to the new execution and length and records ``consumed``, readers see the history as
        it was (``checkpoint.current_execution``), so a commit that dies half-way is not half applied.
        ``previous_length``: the rows of the history this episode ran on (by default
        ``first_sequence_number``; a new execution overwrites the rows of the one it follows).
        """
        if previous_length is None:
            previous_length = first_sequence_number
        pk = escape_key(instance_id)
        batches = _split(new_events)
        for index, batch in reversed(list(enumerate(batches))):
            last = index == 0
            ops: list[BatchOperation] = []
            for offset, event in batch:
                row = table_codec.to_row(instance_id, execution_id, first_sequence_number + offset, event)
                ops.append(BatchOperation("upsert", await self._offload(row)))
            sentinel: dict[str, Any] = {
                "PartitionKey": pk,
                "RowKey": table_codec.SENTINEL_ROW_KEY,
                "IsCheckpointComplete": last,
            }
            if last:
                length = first_sequence_number + len(new_events)
                sentinel |= {"ExecutionId": execution_id} | checkpoint.completion_columns(
                    length, consumed or {}
                )
            else:  # the history as it was, whoever wrote the sentinel before
                sentinel |= checkpoint.in_progress_columns(previous_length)
            if etag is None:
                ops.append(BatchOperation("create", sentinel))
            else:
                ops.append(BatchOperation("merge", sentinel, etag))
            etag = await self._submit(instance_id, ops)
        assert etag is not None
        return etag

    async def _fetch_blobs(self, row: dict[str, Any]) -> None:
        """Put back the properties that were too large for the row (``<Prop>BlobName`` columns)."""
        for column in [c for c in row if c.endswith(BLOB_NAME_SUFFIX)]:
            blob = row.pop(column)
            if blob and self.payloads is not None:
                row[column[: -len(BLOB_NAME_SUFFIX)]] = await self.payloads.download(str(blob))

    async def _offload(self, row: dict[str, Any]) -> dict[str, Any]:
        """Move properties over the table limit to blobs, leaving ``""`` and a ``<Prop>BlobName``."""
        if self.payloads is None:
            return row
        for prop in LARGE_PROPS:
            value = row.get(prop)
            if isinstance(value, str) and property_too_large(value):
                blob = property_blob_name(row["PartitionKey"], row["RowKey"], str(row["EventType"]), prop)
                await self.payloads.upload(blob, value)
                row[prop], row[prop + BLOB_NAME_SUFFIX] = "", blob
        return row

    async def _submit(self, instance_id: str, ops: list[BatchOperation]) -> str:
        try:
            async with translated(f"Committing the history of instance '{instance_id}'"):
                etags = await table_batch.submit(self.table, ops, self.lean)
        except Exception as exc:
            if _is_conflict(exc.__cause__):
                raise ConcurrencyConflictError(
                    f"The history of instance '{instance_id}' was changed by another worker; the episode "
                    "will be retried on the new history."
                ) from exc
            raise
        return etags[-1]

    async def delete_instance(self, instance_id: str) -> int:
        pk = escape_key(instance_id)
        async with translated(f"Deleting the history of instance '{instance_id}'"):
            query = self._query(pk, ["PartitionKey", "RowKey"])
            keys = [(row["PartitionKey"], row["RowKey"]) async for row in query]
            for start in range(0, len(keys), 100):
                chunk = keys[start : start + 100]
                await self.table.submit_transaction(
                    [("delete", {"PartitionKey": p, "RowKey": r}) for p, r in chunk]
                )
        return len(keys)


def _is_conflict(exc: BaseException | None) -> bool:
    """The sentinel was changed (412), created (409) or deleted (404, a purge) by someone else."""
    status = getattr(exc, "status_code", None)
    return status in (404, 409, 412)


def _split(events: list[HistoryEvent]) -> list[list[tuple[int, HistoryEvent]]]:
    """Group events into transactions of at most 99 rows and about 3 MB."""
    batches: list[list[tuple[int, HistoryEvent]]] = [[]]
    size = 0
    for offset, event in enumerate(events):
        estimate = 1024 + sum(len(str(v)) * 2 for v in event.props.values() if isinstance(v, str))
        if batches[-1] and (len(batches[-1]) >= MAX_ROWS_PER_BATCH or size + estimate > MAX_BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append((offset, event))
        size += estimate
    return batches
