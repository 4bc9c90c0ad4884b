"""The Instances table: one row per instance, the status that queries read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, UpdateMode
from azure.data.tables.aio import TableClient

from ..core.history import EventType, HistoryEvent, OrchestrationStatus
from ..core.state import OrchestrationRuntimeState, OrchestrationState
from .clients import translated
from .instance_index import InstanceIndex, Listed
from .large_payloads import LargePayloads, property_blob_name, property_too_large
from .lean_table import lean_table
from .names import escape_key, unescape_key


def _int32(value: int) -> EntityProperty:
    return EntityProperty(value, EdmType.INT32)


def _dt(value: Any) -> datetime | None:
    return value.astimezone(UTC) if isinstance(value, datetime) else None


def state_from_row(row: dict[str, Any]) -> OrchestrationState:
    tags = row.get("Tags")
    return OrchestrationState(
        instance_id=unescape_key(str(row["PartitionKey"])),
        name=str(row.get("Name") or ""),
        status=OrchestrationStatus[str(row.get("RuntimeStatus") or "Pending")],
        execution_id=row.get("ExecutionId"),
        version=str(row.get("Version") or ""),
        input=row.get("Input"),
        output=row.get("Output"),
        custom_status=None if row.get("CustomStatus") in (None, "null") else row.get("CustomStatus"),
        created_time=_dt(row.get("CreatedTime")),
        last_updated_time=_dt(row.get("LastUpdatedTime")),
        completed_time=_dt(row.get("CompletedTime")),
        scheduled_start_time=_dt(row.get("ScheduledStartTime")),
        generation=int(row.get("Generation") or 0),
        tags=json.loads(tags) if isinstance(tags, str) and tags not in ("", "null") else None,
    )


LARGE_COLUMNS = ("Input", "Output", "CustomStatus")


def listed_of(row: dict[str, Any]) -> Listed | None:
    """What the index lists an Instances row as (``None`` for a row without a created time)."""
    created = _dt(row.get("CreatedTime"))
    if created is None:
        return None
    status = str(row.get("RuntimeStatus") or OrchestrationStatus.Pending.name)
    return Listed(created, str(row.get("Name") or ""), status)


class InstanceStore:
    def __init__(
        self,
        table: TableClient,
        hub_name: str,
        payloads: LargePayloads | None = None,
        index: InstanceIndex | None = None,
    ) -> None:
        self.table = table
        self.index = index
        """Follows every change of a row's created time, name or status (``None``: no index)."""
        self.lean = lean_table(table)
        """The table's lean request path; ``None``: the SDK client's."""
        self.hub_name = hub_name
        self.payloads = payloads

    async def _write(self, row: dict[str, Any], *, merge: bool, etag: str | None = None) -> None:
        """Merge or replace the row, inserting it when ``etag`` is ``None``, else only if unchanged."""
        if self.lean is not None:
            await self.lean.write(row, merge=merge, etag=etag)
            return
        mode = UpdateMode.MERGE if merge else UpdateMode.REPLACE
        if etag is None:
            await self.table.upsert_entity(row, mode=mode)
        else:
            await self.table.update_entity(
                row, mode=mode, etag=etag, match_condition=MatchConditions.IfNotModified
            )

    async def _offload(self, row: dict[str, Any]) -> dict[str, Any]:
        """Replace values over the table limit by the absolute URL of a blob holding them."""
        if self.payloads is None:
            return row
        for column in LARGE_COLUMNS:
            value = row.get(column)
            if isinstance(value, str) and property_too_large(value):
                blob = property_blob_name(row["PartitionKey"], "", column, column)
                await self.payloads.upload(blob, value)
                row[column] = self.payloads.url(blob)
        return row

    async def fetch_large_values(self, row: dict[str, Any]) -> dict[str, Any]:
        """Put back the values that :meth:`_offload` moved to blobs."""
        if self.payloads is None:
            return row
        for column in LARGE_COLUMNS:
            blob = self.payloads.blob_name_of(row.get(column))
            if blob is not None:
                row[column] = await self.payloads.download(blob)
        return row

    async def get_row(self, instance_id: str) -> dict[str, Any] | None:
        async with translated(f"Reading the status of instance '{instance_id}'"):
            try:
                entity = await self.table.get_entity(escape_key(instance_id), "")
            except ResourceNotFoundError:
                return None
        return dict(entity) | {"etag": entity.metadata.get("etag")}

    async def get(self, instance_id: str) -> OrchestrationState | None:
        row = await self.get_row(instance_id)
        return None if row is None else state_from_row(row)

    def _pending_row(self, started: HistoryEvent, instance_id: str) -> dict[str, Any]:
        instance = started.props["OrchestrationInstance"]
        row = {
            "PartitionKey": escape_key(instance_id),
            "RowKey": "",
            "Name": started.name,
            "Version": started.get("Version") or "",
            "Input": started.input,
            "CreatedTime": started.timestamp,
            "LastUpdatedTime": datetime.now(UTC),
            "RuntimeStatus": OrchestrationStatus.Pending.name,
            "TaskHubName": self.hub_name,
            "ExecutionId": instance["ExecutionId"],
            "Generation": _int32(int(started.get("Generation") or 0)),
            "Tags": json.dumps(started.get("Tags")) if started.get("Tags") else "null",
            "CustomStatus": "null",
        }
        if started.get("ScheduledStartTime") is not None:
            row["ScheduledStartTime"] = started.get("ScheduledStartTime")
        return row

    async def create_pending(self, started: HistoryEvent, instance_id: str) -> bool:
        """Insert the client's row for a new start (``Pending``); False if the instance has a row."""
        row = await self._offload(self._pending_row(started, instance_id))
        async with translated(f"Writing the status of new instance '{instance_id}'"):
            try:
                if self.lean is not None:
                    await self.lean.insert(row)
                else:
                    await self.table.create_entity(row)
            except ResourceExistsError:
                return False
        await _briefly(self._listed(instance_id, row, new=True))
        return True

    async def write_pending(self, started: HistoryEvent, instance_id: str, existing: dict[str, Any]) -> bool:
        """Replace an older generation's row (``existing``, as :meth:`get_row` read it) by the client's
        row for a new start; False if another start changed the row first (its row stands, as in the
        reference)."""
        row = await self._offload(self._pending_row(started, instance_id))
        async with translated(f"Writing the status of new instance '{instance_id}'"):
            try:
                await self._write(row, merge=False, etag=str(existing["etag"]))
            except (ResourceModifiedError, ResourceNotFoundError):
                return False
        await _briefly(self._listed(instance_id, row, existing.get("CreatedTime")))
        return True

    def _listed(
        self, instance_id: str, row: dict[str, Any] | None, *previous_created: Any, new: bool = False
    ) -> Awaitable[None]:
        """Tell the index the instance's row is now ``row`` (``None``: gone); what the index's future
        ends with (it never raises)."""
        if self.index is None or (row is not None and _dt(row.get("CreatedTime")) is None):
            return _done()
        target = listed_of(row) if row is not None else None
        return self.index.record(instance_id, target, [_dt(t) for t in previous_created], new=new)

    async def update_from_episode(
        self,
        runtime_state: OrchestrationRuntimeState,
        custom_status: str | None,
        *,
        keep_custom_status: bool = False,
        previous_created: datetime | None = None,
    ) -> None:
        """Merge what this episode changed into the row (a projection of the history);
        ``previous_created``: the created time the row had before (a new execution changes it)."""
        instance_id = runtime_state.instance_id or ""
        now = datetime.now(UTC)
        row: dict[str, Any] = {
            "PartitionKey": escape_key(instance_id),
            "RowKey": "",
            "CustomStatus": custom_status if custom_status is not None else "null",
            "ExecutionId": runtime_state.execution_id,
            "LastUpdatedTime": runtime_state.new_events[-1].timestamp if runtime_state.new_events else now,
            "TaskHubName": self.hub_name,
        }
        if keep_custom_status:
            del row["CustomStatus"]
        for event in runtime_state.new_events:
            row.update(_fields_for(event, now))
        listed: Awaitable[None] = _done()
        started = runtime_state.execution_started
        if "RuntimeStatus" in row and started is not None:  # written with the row, not after it
            whole = {"CreatedTime": started.timestamp, "Name": runtime_state.name, **row}
            listed = self._listed(instance_id, whole, previous_created)
        async with translated(f"Updating the status of instance '{instance_id}'"):
            await asyncio.gather(
                self._write(await self._offload(row), merge=True), _briefly(listed, EPISODE_INDEX_WAIT_S)
            )

    async def delete(self, instance_id: str, created: datetime | None = None) -> bool:
        """Delete the row (``created``: its created time, where the index lists it)."""
        async with translated(f"Deleting the status of instance '{instance_id}'"):
            try:
                await self.table.delete_entity(escape_key(instance_id), "")
            except ResourceNotFoundError:
                return False
        await _briefly(self._listed(instance_id, None, created))
        return True

    async def query(self, query_filter: str, parameters: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        async with translated("Querying instances"):
            async for row in self.table.query_entities(query_filter, parameters=parameters):
                yield dict(row)

    async def mark_terminated(self, instance_id: str, execution_id: str | None, reason: str | None) -> bool:
        """``Terminated`` for an instance that never started (``UpdateStatusForTerminationAsync``).

        Only while the row is still ``Pending`` for ``execution_id``; False if it moved on meanwhile.
        """
        row = await self.get_row(instance_id)
        if row is None or row.get("RuntimeStatus") != OrchestrationStatus.Pending.name:
            return False
        if execution_id is not None and row.get("ExecutionId") != execution_id:
            return False
        fields = _finished(instance_id, OrchestrationStatus.Terminated, reason)
        async with translated(f"Marking instance '{instance_id}' terminated"):
            try:
                await self._write(fields, merge=True, etag=row["etag"])
            except (ResourceModifiedError, ResourceNotFoundError):
                return False  # the worker started it (or it was purged) in the meantime
        await _briefly(self._listed(instance_id, row | fields))
        return True

    async def mark_failed(self, instance_id: str, reason: str) -> None:
        """``Failed`` with ``reason``, written directly (for an instance whose episodes cannot commit)."""
        fields = _finished(instance_id, OrchestrationStatus.Failed, reason)
        async with translated(f"Marking instance '{instance_id}' failed"):
            await self._write(fields, merge=True)
        await self._relist(instance_id)

    async def mark_pending(self, instance_id: str) -> None:
        """``Pending`` again, for a rewound instance (``UpdateStatusForRewindAsync``)."""
        fields = {
            "PartitionKey": escape_key(instance_id),
            "RowKey": "",
            "RuntimeStatus": OrchestrationStatus.Pending.name,
            "LastUpdatedTime": datetime.now(UTC),
        }
        async with translated(f"Marking instance '{instance_id}' pending for its rewind"):
            await self.table.update_entity(fields, mode=UpdateMode.MERGE)
        await self._relist(instance_id)

    async def _relist(self, instance_id: str) -> None:
        """Tell the index what the row holds now (after a write that did not read it first)."""
        if self.index is not None:
            await self._listed(instance_id, await self.get_row(instance_id))


CLIENT_INDEX_WAIT_S = 1.0
EPISODE_INDEX_WAIT_S = 5.0
"""An episode's commit waits this long at most for the index (its session is held meanwhile)."""
"""How long a client's write waits for the instance index: it is written in milliseconds, so a listing
right after shows the change; when storage falters the index goes on trying, and the client answers."""


async def _briefly(listed: Awaitable[None], within_s: float = CLIENT_INDEX_WAIT_S) -> None:
    """Wait for the index to follow, but not past ``within_s``: it goes on retrying by itself, and
    the repair sweep lists what it never could."""
    await asyncio.wait([asyncio.ensure_future(listed)], timeout=within_s)


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


def _finished(instance_id: str, status: OrchestrationStatus, output: str | None) -> dict[str, Any]:
    """The columns that mark an instance finished, written outside an episode."""
    now = datetime.now(UTC)
    return {
        "PartitionKey": escape_key(instance_id),
        "RowKey": "",
        "RuntimeStatus": status.name,
        "Output": output,
        "LastUpdatedTime": now,
        "CompletedTime": now,
    }


STATUS_EVENTS = frozenset(
    {
        EventType.ExecutionStarted,
        EventType.ExecutionCompleted,
        EventType.ExecutionTerminated,
        EventType.ExecutionSuspended,
        EventType.ExecutionResumed,
    }
)
"""The events that change Instances columns other than the custom status and ``LastUpdatedTime``."""


def changes_status(runtime_state: OrchestrationRuntimeState) -> bool:
    return any(e.event_type in STATUS_EVENTS for e in runtime_state.new_events)


def _fields_for(event: HistoryEvent, now: datetime) -> dict[str, Any]:
    if event.event_type == EventType.ExecutionStarted:
        fields: dict[str, Any] = {
            "Name": event.name,
            "Version": event.get("Version") or "",
            "CreatedTime": event.timestamp,
            "RuntimeStatus": OrchestrationStatus.Running.name,
            "Generation": _int32(int(event.get("Generation") or 0)),
            "Input": event.input,
            "Tags": json.dumps(event.get("Tags")) if event.get("Tags") else "null",
        }
        if event.get("ScheduledStartTime") is not None:
            fields["ScheduledStartTime"] = event.get("ScheduledStartTime")
        return fields
    if event.event_type == EventType.ExecutionCompleted:
        status = OrchestrationStatus(int(event.get("OrchestrationStatus", OrchestrationStatus.Completed)))
        return {"RuntimeStatus": status.name, "CompletedTime": now, "Output": event.get("Result")}
    if event.event_type == EventType.ExecutionTerminated:
        return {
            "RuntimeStatus": OrchestrationStatus.Terminated.name,
            "CompletedTime": now,
            "Output": event.input,
        }
    if event.event_type == EventType.ExecutionSuspended:
        return {"RuntimeStatus": OrchestrationStatus.Suspended.name, "Output": event.get("Reason")}
    if event.event_type == EventType.ExecutionResumed:
        return {"RuntimeStatus": OrchestrationStatus.Running.name, "Output": event.get("Reason")}
    return {}
