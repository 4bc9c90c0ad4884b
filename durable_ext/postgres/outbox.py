"""Sending messages inside a transaction: instance messages to ``NewEvents`` (with the target's Instances
row, made if missing, for its lock), activity messages to ``NewTasks``, and the notifications that wake
the workers when the transaction commits."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ..core.messages import TaskMessage
from .codec import message_to_json
from .wakeups import EVENTS, TASKS, channel_of, notice


class Outbox:
    def __init__(self, schema: str, hub: str) -> None:
        self.hub = hub
        self.channel = channel_of(schema, hub)
        s = schema
        self._row_sql = (
            f"INSERT INTO {s}.Instances (TaskHub, InstanceID) SELECT $1, unnest($2::text[]) "
            "ON CONFLICT DO NOTHING"
        )
        self._event_sql = (
            f"INSERT INTO {s}.NewEvents (TaskHub, InstanceID, ExecutionID, EventType, VisibleTime, Message) "
            "VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6)"
        )
        self._task_sql = (
            f"INSERT INTO {s}.NewTasks (TaskHub, InstanceID, ExecutionID, Name, TaskID, Message) "
            "VALUES ($1, $2, $3, $4, $5, $6)"
        )

    _notify_sql = "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload"

    async def send(
        self, conn: asyncpg.Connection, events: list[TaskMessage], tasks: list[TaskMessage] | None = None
    ) -> None:
        """Insert the messages and queue their notifications (sent when the transaction commits)."""
        tasks = tasks or []
        if events:
            await conn.execute(self._row_sql, self.hub, sorted({m.instance_id for m in events}))
            await conn.executemany(
                self._event_sql,
                [
                    (
                        self.hub,
                        m.instance_id,
                        m.execution_id,
                        m.event_type.name,
                        m.visible_at,
                        message_to_json(m),
                    )
                    for m in events
                ],
            )
        if tasks:
            await conn.executemany(
                self._task_sql,
                [
                    (
                        self.hub,
                        m.instance_id,
                        m.execution_id,
                        m.event.name,
                        m.event.event_id,
                        message_to_json(m),
                    )
                    for m in tasks
                ],
            )
        payloads = _notices(events, tasks)
        if payloads:
            await conn.execute(self._notify_sql, self.channel, payloads)


def _notices(events: list[TaskMessage], tasks: list[TaskMessage]) -> list[str]:
    payloads = []
    due: list[datetime] = sorted({m.visible_at for m in events if m.visible_at is not None})
    if any(m.visible_at is None for m in events):
        payloads.append(notice(EVENTS))
    payloads += [notice(EVENTS, at) for at in due]
    if tasks:
        payloads.append(notice(TASKS))
    return payloads
