"""Poison messages: moved aside to the ``<hub>Poison`` table instead of being retried forever.

A message is poison when it cannot be read at all, or when it was delivered more than the configured
number of times and the work it triggers failed every time (not for a storage outage: those are
waited out). The row keeps the message body, where it came from, how often it was delivered and why
it was moved, so nothing accepted is lost: it can be read, fixed and sent again. The table is created
with the first poison message, so a healthy task hub has exactly the reference's resources.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from ..core.poison import PoisonMessage
from .clients import translated
from .large_payloads import property_too_large
from .names import escape_key
from .queues import TaskHubQueue

log = logging.getLogger("durable_ext.poison")

_MAX_BODY_CHARS = 30_000  # a table property holds 64 KiB of UTF-16


def poison_message(row: dict[str, Any]) -> PoisonMessage:
    return PoisonMessage(
        instance_id=row.get("InstanceId"),
        queue=str(row.get("Queue") or ""),
        message_id=str(row.get("RowKey") or ""),
        reason=str(row.get("Reason") or ""),
        dequeue_count=int(row.get("DequeueCount") or 0),
        moved_on=row.get("MovedOn"),
        body=str(row.get("Body") or ""),
    )


class PoisonStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    async def create(self) -> None:
        async with translated(f"Creating table '{self.table.table_name}'"):
            with contextlib.suppress(ResourceExistsError):
                await self.table.create_table()

    async def quarantine(
        self, queue: TaskHubQueue, raw: Any, reason: str, instance_id: str | None = None
    ) -> None:
        """Keep the message in the poison table, then delete it from its queue."""
        body = str(raw.content)
        row = {
            "PartitionKey": escape_key(instance_id or f"queue:{queue.name}"),
            "RowKey": str(raw.id),
            "InstanceId": instance_id,
            "Queue": queue.name,
            "Reason": reason,
            "DequeueCount": int(raw.dequeue_count or 0),
            "InsertedOn": raw.inserted_on,
            "MovedOn": datetime.now(UTC),
            "Body": body if not property_too_large(body) else body[:_MAX_BODY_CHARS],
            "BodyTruncated": property_too_large(body),
        }
        async with translated(f"Moving message {raw.id} of '{queue.name}' to the poison table"):
            try:
                await self.table.upsert_entity(row, mode=UpdateMode.REPLACE)
            except ResourceNotFoundError:  # the first poison message of this hub creates the table
                await self.create()
                await self.table.upsert_entity(row, mode=UpdateMode.REPLACE)
        await queue.delete(raw)
        log.error(
            "Moved poison message %s of '%s'%s to table '%s': %s",
            raw.id,
            queue.name,
            f" (instance '{instance_id}')" if instance_id else "",
            self.table.table_name,
            reason,
        )

    async def list(self, instance_id: str | None = None) -> list[dict[str, Any]]:
        query = "PartitionKey eq @pk" if instance_id else "PartitionKey ne ''"
        params = {"pk": escape_key(instance_id)} if instance_id else {}
        async with translated("Reading the poison table"):
            try:
                return [dict(row) async for row in self.table.query_entities(query, parameters=params)]
            except ResourceNotFoundError:
                return []  # no message was ever moved aside
