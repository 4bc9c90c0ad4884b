"""Activity messages in ``NewTasks``: locked one at a time with ``FOR UPDATE SKIP LOCKED`` and a lease in
the row, renewed while the activity runs; its result is sent and the row deleted in one transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import asyncpg

from ..core.messages import TaskMessage
from ..core.poison import poison_reason
from ..core.service import ActivityWorkItem
from .codec import message_from_json, message_to_json
from .outbox import Outbox

log = logging.getLogger("durable_ext.postgres")


@dataclass
class TaskLock:
    sequence: int
    token: uuid.UUID
    dequeue_count: int


class TaskStore:
    def __init__(
        self, schema: str, hub: str, worker_id: str, lock_timeout_s: float, poison_threshold: int
    ) -> None:
        self.hub = hub
        self.worker_id = worker_id
        self.lock_timeout_s = lock_timeout_s
        self.poison_threshold = poison_threshold
        self.outbox = Outbox(schema, hub)
        s = schema
        self._lock_sql = f"""
UPDATE {s}.NewTasks SET LockedBy = $2, LockToken = $3, LockExpiration = now() + make_interval(secs => $4),
    DequeueCount = DequeueCount + 1
WHERE TaskHub = $1 AND SequenceNumber = (
    SELECT SequenceNumber FROM {s}.NewTasks
    WHERE TaskHub = $1 AND VisibleTime <= now() AND (LockExpiration IS NULL OR LockExpiration < now())
    ORDER BY SequenceNumber LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING SequenceNumber, Message, DequeueCount"""
        self._delete_sql = (
            f"DELETE FROM {s}.NewTasks WHERE TaskHub = $1 AND SequenceNumber = $2 AND LockToken = $3"
        )
        self._unlock_sql = (
            f"UPDATE {s}.NewTasks SET LockExpiration = NULL, LockToken = NULL "
            "WHERE TaskHub = $1 AND SequenceNumber = $2 AND LockToken = $3"
        )
        self._renew_sql = (
            f"UPDATE {s}.NewTasks SET LockExpiration = now() + make_interval(secs => $3) "
            "WHERE TaskHub = $1 AND LockToken = ANY($2)"
        )
        self._poison_sql = (
            f"INSERT INTO {s}.PoisonMessages (TaskHub, InstanceID, Queue, DequeueCount, Reason, Message) "
            "VALUES ($1, $2, 'NewTasks', $3, $4, $5)"
        )

    async def lock_next(self, conn: asyncpg.Connection) -> ActivityWorkItem | None:
        token = uuid.uuid4()
        row = await conn.fetchrow(self._lock_sql, self.hub, self.worker_id, token, self.lock_timeout_s)
        if row is None:
            return None
        lock = TaskLock(row["sequencenumber"], token, row["dequeuecount"])
        item = ActivityWorkItem(str(lock.sequence), message_from_json(row["message"]), lock)
        if lock.dequeue_count > self.poison_threshold:
            item.poison_reason = poison_reason(
                lock.dequeue_count, "the activity never completed", kept_in="the PoisonMessages table"
            )
        return item

    async def complete(self, conn: asyncpg.Connection, item: ActivityWorkItem, response: TaskMessage) -> None:
        """Send the result and delete the message, unless another worker has it by now (this worker's
        lock expired): then that worker's run answers, and this one's result is dropped."""
        lock: TaskLock = item.session
        async with conn.transaction():
            status = await conn.execute(self._delete_sql, self.hub, lock.sequence, lock.token)
            if status.endswith(" 0"):
                log.warning(
                    "Dropping the result of activity message %d for '%s': its lock expired and another "
                    "worker runs it",
                    lock.sequence,
                    item.message.instance_id,
                )
                return
            if item.poison_reason is not None:
                await conn.execute(
                    self._poison_sql,
                    self.hub,
                    item.message.instance_id,
                    lock.dequeue_count,
                    item.poison_reason,
                    message_to_json(item.message),
                )
            await self.outbox.send(conn, [response])

    async def abandon(self, conn: asyncpg.Connection, item: ActivityWorkItem) -> None:
        lock: TaskLock = item.session
        await conn.execute(self._unlock_sql, self.hub, lock.sequence, lock.token)

    async def renew(self, conn: asyncpg.Connection, tokens: list[uuid.UUID]) -> None:
        if tokens:
            await conn.execute(self._renew_sql, self.hub, tokens, self.lock_timeout_s)
