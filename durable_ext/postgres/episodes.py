"""Orchestration and entity episodes: lock an instance with messages waiting, commit its episode in one
transaction.

An instance is locked by writing ``LockedBy``/``LockToken``/``LockExpiration`` on its Instances row (a
lease kept in data, as in the MSSQL provider), chosen with ``FOR UPDATE SKIP LOCKED`` so workers never
wait for each other. The episode's commit checks the token, appends the history rows (their primary key
refuses a second writer of the same sequence numbers), writes the status, inserts the messages it sends
and deletes the ones it consumed, all in one transaction: a worker killed at any point leaves either
nothing or everything, and the instance's messages are taken again once its lock expires.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

import asyncpg

from ..core.admission import admit
from ..core.history import OrchestrationStatus
from ..core.messages import TaskMessage
from ..core.poison import PoisonAction, judge_poison
from ..core.projection import episode_state, finished_state
from ..core.service import EpisodeResult, OrchestrationWorkItem
from ..core.state import OrchestrationRuntimeState, OrchestrationState
from ..errors import ConcurrencyConflictError
from .codec import (
    INSERT_HISTORY,
    STATE_COLUMNS,
    event_of,
    history_rows,
    message_from_json,
    message_to_json,
    state_of,
    state_params,
    wall_now,
)
from .outbox import Outbox

log = logging.getLogger("durable_ext.postgres")

POISON_KEPT_IN = "the PoisonMessages table"
WAIT_AGAIN_S = 1.0
"""How long a message that must wait for a later episode stays out of sight."""


@dataclass
class Taken:
    """A message taken for an episode: its row and how often it was delivered."""

    sequence: int
    message: TaskMessage
    dequeue_count: int


@dataclass
class EpisodeLock:
    """The session of an orchestration work item: the lock it holds and the messages it took."""

    token: uuid.UUID
    row_version: int
    taken: list[Taken] = field(default_factory=list)
    status: OrchestrationState | None = None


class EpisodeStore:
    def __init__(
        self,
        schema: str,
        hub: str,
        worker_id: str,
        lock_timeout_s: float,
        batch_size: int,
        poison_threshold: int,
    ) -> None:
        self.hub = hub
        self.poison_threshold = poison_threshold
        self.worker_id = worker_id
        self.lock_timeout_s = lock_timeout_s
        self.batch_size = batch_size
        self.outbox = Outbox(schema, hub)
        s = schema
        self._lock_sql = f"""
WITH next AS (
    SELECT i.InstanceID FROM {s}.NewEvents e
    JOIN {s}.Instances i ON i.TaskHub = e.TaskHub AND i.InstanceID = e.InstanceID
    WHERE e.TaskHub = $1 AND e.VisibleTime <= now()
      AND (i.LockExpiration IS NULL OR i.LockExpiration < now())
      AND NOT (COALESCE(i.RuntimeStatus, 'Pending') = 'Pending' AND EXISTS (
          SELECT 1 FROM {s}.NewEvents f WHERE f.TaskHub = e.TaskHub AND f.InstanceID = e.InstanceID
          AND f.EventType = 'ExecutionStarted' AND f.VisibleTime > now()))
    ORDER BY e.VisibleTime
    LIMIT 1
    FOR UPDATE OF i SKIP LOCKED
)
UPDATE {s}.Instances i SET LockedBy = $2, LockToken = $3,
    LockExpiration = now() + make_interval(secs => $4)
FROM next WHERE i.TaskHub = $1 AND i.InstanceID = next.InstanceID
RETURNING i.*"""
        self._take_sql = f"""
UPDATE {s}.NewEvents SET DequeueCount = DequeueCount + 1
WHERE TaskHub = $1 AND InstanceID = $2 AND SequenceNumber IN (
    SELECT SequenceNumber FROM {s}.NewEvents
    WHERE TaskHub = $1 AND InstanceID = $2 AND VisibleTime <= now()
    ORDER BY SequenceNumber LIMIT $3)
RETURNING SequenceNumber, Message, DequeueCount"""
        self._history_sql = (
            f"SELECT Event FROM {s}.History WHERE TaskHub = $1 AND InstanceID = $2 AND ExecutionID = $3 "
            "ORDER BY SequenceNumber"
        )
        self._delete_sql = (
            f"DELETE FROM {s}.NewEvents WHERE TaskHub = $1 AND InstanceID = $2 AND SequenceNumber = ANY($3)"
        )
        self._later_sql = (
            f"UPDATE {s}.NewEvents SET VisibleTime = now() + make_interval(secs => $4) "
            "WHERE TaskHub = $1 AND InstanceID = $2 AND SequenceNumber = ANY($3)"
        )
        self._unlock_sql = (
            f"UPDATE {s}.Instances SET LockExpiration = NULL, LockToken = NULL "
            "WHERE TaskHub = $1 AND InstanceID = $2 AND LockToken = $3"
        )
        self._check_sql = (
            f"SELECT RowVersion FROM {s}.Instances WHERE TaskHub = $1 AND InstanceID = $2 AND LockToken = $3 "
            "AND LockExpiration > now() FOR UPDATE"
        )
        self._insert_history_sql = INSERT_HISTORY.format(s=s)
        self._drop_history_sql = (
            f"DELETE FROM {s}.History WHERE TaskHub = $1 AND InstanceID = $2 AND ExecutionID <> $3"
        )
        columns = STATE_COLUMNS.split(", ")
        assignments = ", ".join(f"{c} = ${n + 2}" for n, c in enumerate(columns[1:], start=1))
        self._state_sql = (
            f"UPDATE {s}.Instances SET {assignments}, LockExpiration = NULL, LockToken = NULL "
            f"WHERE TaskHub = $1 AND InstanceID = $2"
        )
        self._next_due_sql = (
            f"SELECT EXTRACT(EPOCH FROM min(VisibleTime) - now()) FROM {s}.NewEvents "
            "WHERE TaskHub = $1 AND VisibleTime > now()"
        )
        self._renew_sql = (
            f"UPDATE {s}.Instances SET LockExpiration = now() + make_interval(secs => $3) "
            "WHERE TaskHub = $1 AND LockToken = ANY($2)"
        )
        self._poison_sql = (
            f"INSERT INTO {s}.PoisonMessages (TaskHub, InstanceID, Queue, DequeueCount, Reason, Message) "
            "VALUES ($1, $2, 'NewEvents', $3, $4, $5)"
        )
        self._forget_sql = (
            f"DELETE FROM {s}.Instances i WHERE i.TaskHub = $1 AND i.InstanceID = $2 "
            "AND i.RuntimeStatus IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {s}.NewEvents e WHERE e.TaskHub = $1 AND e.InstanceID = $2)"
        )

    # ---- locking --------------------------------------------------------------------------------
    async def lock_next(
        self, conn: asyncpg.Connection, last_errors: dict[str, str]
    ) -> OrchestrationWorkItem | bool | None:
        """The next episode, ``None`` when no instance has messages, ``True`` when one had only messages
        to drop (look again at once)."""
        token = uuid.uuid4()
        async with conn.transaction():
            row = await conn.fetchrow(self._lock_sql, self.hub, self.worker_id, token, self.lock_timeout_s)
            if row is None:
                return None
            instance_id = row["instanceid"]
            status = state_of(row) if row["runtimestatus"] else None
            rows = await conn.fetch(self._take_sql, self.hub, instance_id, self.batch_size)
            taken = sorted(
                (
                    Taken(r["sequencenumber"], message_from_json(r["message"]), r["dequeuecount"])
                    for r in rows
                ),
                key=lambda t: t.sequence,
            )
            history = []
            if status is not None and status.execution_id:
                history = [
                    event_of(r["event"])
                    for r in await conn.fetch(self._history_sql, self.hub, instance_id, status.execution_id)
                ]
            admission = admit(instance_id, history, status, taken)
            judged = {t.sequence for t in admission.kept} | {t.sequence for t in admission.waiting}
            dropped = [t.sequence for t in taken if t.sequence not in judged]
            if dropped:
                await conn.execute(self._delete_sql, self.hub, instance_id, dropped)
            if admission.waiting:
                waiting = [t.sequence for t in admission.waiting]
                await conn.execute(self._later_sql, self.hub, instance_id, waiting, WAIT_AGAIN_S)
            kept = admission.kept
            reason = None
            if kept:
                reason = await self._poison_check(conn, instance_id, status, kept, last_errors)
            if not kept:
                await conn.execute(self._unlock_sql, self.hub, instance_id, token)
                await conn.execute(self._forget_sql, self.hub, instance_id)
                return True
        past = [] if admission.new_execution else history
        return OrchestrationWorkItem(
            instance_id,
            OrchestrationRuntimeState(past_events=past),
            [t.message for t in kept],
            EpisodeLock(token, int(row["rowversion"]), kept, status),
            poison_reason=reason,
        )

    async def _poison_check(
        self,
        conn: asyncpg.Connection,
        instance_id: str,
        status: OrchestrationState | None,
        kept: list[Taken],
        last_errors: dict[str, str],
    ) -> str | None:
        """The shared poison rule (``judge_poison``) applied to this hub: the reason to fail the
        instance, else ``None``."""
        counts = [t.dequeue_count for t in kept]
        last = last_errors.get(instance_id)
        verdict = judge_poison(instance_id, counts, self.poison_threshold, last, kept_in=POISON_KEPT_IN)
        if verdict is None:
            return None
        if verdict.action is PoisonAction.MOVE_POISON:
            poison = [t for t in kept if verdict.is_poison(t.dequeue_count)]
            await self._quarantine(conn, instance_id, poison, verdict.reason)
            kept[:] = [t for t in kept if not verdict.is_poison(t.dequeue_count)]
            return None
        if verdict.action is PoisonAction.FAIL_AND_MOVE_ALL:
            failed_status = OrchestrationStatus.Failed
            failed = finished_state(status, instance_id, failed_status, verdict.reason, wall_now())
            await conn.execute(self._state_sql, self.hub, *state_params(failed))
            await self._quarantine(conn, instance_id, kept, verdict.reason)
            kept.clear()
            return None
        return verdict.reason

    async def _quarantine(
        self, conn: asyncpg.Connection, instance_id: str, taken: list[Taken], reason: str
    ) -> None:
        for t in taken:
            await conn.execute(
                self._poison_sql, self.hub, instance_id, t.dequeue_count, reason, message_to_json(t.message)
            )
        await conn.execute(self._delete_sql, self.hub, instance_id, [t.sequence for t in taken])

    # ---- committing -----------------------------------------------------------------------------
    async def commit(
        self, conn: asyncpg.Connection, item: OrchestrationWorkItem, result: EpisodeResult
    ) -> None:
        """Commit the episode, or raise :class:`ConcurrencyConflictError` when
        the lock was lost (it expired and another worker took the instance, or it was purged)."""
        lock: EpisodeLock = item.session
        instance_id = item.instance_id
        runtime = result.runtime_state
        async with conn.transaction():
            version = await conn.fetchval(self._check_sql, self.hub, instance_id, lock.token)
            if version is None or version != lock.row_version:
                raise ConcurrencyConflictError(
                    f"The lock on instance '{instance_id}' was lost (it expired, or the instance was purged "
                    "or rewound) while its episode ran; the episode is discarded and its messages run again."
                )
            execution_id = runtime.execution_id or ""
            first = len(runtime.past_events)
            if (
                not runtime.past_events
                and lock.status is not None
                and lock.status.execution_id != execution_id
            ):
                # a new execution (continued as new, or a new generation): its history replaces the old
                await conn.execute(self._drop_history_sql, self.hub, instance_id, execution_id)
            await conn.executemany(
                self._insert_history_sql,
                history_rows(self.hub, instance_id, execution_id, first, runtime.new_events),
            )
            state = episode_state(
                lock.status,
                runtime,
                result.custom_status,
                keep_custom_status=result.keep_custom_status,
                now=wall_now(),
            )
            await conn.execute(self._state_sql, self.hub, *state_params(state))
            if item.poison_reason is not None:
                over = [t for t in lock.taken if t.dequeue_count > self.poison_threshold]
                await self._quarantine(conn, instance_id, over, item.poison_reason)
            await conn.execute(self._delete_sql, self.hub, instance_id, [t.sequence for t in lock.taken])
            await self.outbox.send(conn, result.orchestrator_messages, result.activity_messages)

    async def release(
        self, conn: asyncpg.Connection, item: OrchestrationWorkItem, delay_s: float = 0.0
    ) -> None:
        """Give the instance back: its messages stay, to run in the next episode (after ``delay_s``)."""
        lock: EpisodeLock = item.session
        async with conn.transaction():
            if delay_s > 0:
                sequences = [t.sequence for t in lock.taken]
                await conn.execute(self._later_sql, self.hub, item.instance_id, sequences, delay_s)
            await conn.execute(self._unlock_sql, self.hub, item.instance_id, lock.token)

    async def next_due_s(self, conn: asyncpg.Connection) -> float | None:
        """Seconds until the earliest delayed message (a timer, a scheduled start) is due, if any."""
        value = await conn.fetchval(self._next_due_sql, self.hub)
        return None if value is None else float(value)

    async def renew(self, conn: asyncpg.Connection, tokens: list[uuid.UUID]) -> None:
        if tokens:
            await conn.execute(self._renew_sql, self.hub, tokens, self.lock_timeout_s)
