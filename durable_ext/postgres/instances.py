"""The client side on PostgreSQL: starting instances, sending them messages, reading, listing, purging
and rewinding them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import asyncpg

from ..core.continuation import decode_token, encode_token
from ..core.entity_queries import EntityPage, EntityQuery
from ..core.history import HistoryEvent, OrchestrationStatus
from ..core.listing import entity_page
from ..core.messages import TaskMessage
from ..core.ordering import order_key, parse_time_key
from ..core.projection import finished_state, pending_again, pending_state
from ..core.queries import InstanceOrder, InstancePage, InstanceQuery, purgeable_statuses
from ..core.rewind import RewindPlan, apply_rewind
from ..core.state import OrchestrationState
from ..errors import InstanceAlreadyExistsError
from .codec import INSERT_HISTORY, STATE_COLUMNS, event_of, history_rows, state_of, state_params, wall_now
from .outbox import Outbox

_ORDER_BY = {
    InstanceOrder.ID: "InstanceID",
    InstanceOrder.NEWEST: "CreatedTime DESC, InstanceID DESC",  # every listed row has a created time
    InstanceOrder.OLDEST: "CreatedTime, InstanceID",
}
_CLEARED = ", ".join(f"{c} = NULL" for c in STATE_COLUMNS.split(", ")[1:] if c not in ("Generation",))


class InstanceStore:
    def __init__(self, schema: str, hub: str) -> None:
        self.schema = schema
        self.hub = hub
        self.outbox = Outbox(schema, hub)
        s = schema
        columns = STATE_COLUMNS.split(", ")
        placeholders = ", ".join(f"${n + 2}" for n in range(len(columns)))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
        self._upsert_sql = (
            f"INSERT INTO {s}.Instances (TaskHub, {STATE_COLUMNS}) VALUES ($1, {placeholders}) "
            f"ON CONFLICT (TaskHub, InstanceID) DO UPDATE SET {updates}, "
            f"RowVersion = {s}.Instances.RowVersion + 1"
        )
        self._status_sql = (
            f"SELECT * FROM {s}.Instances WHERE TaskHub = $1 AND InstanceID = $2 "
            "AND RuntimeStatus IS NOT NULL"
        )
        self._history_sql = (
            f"SELECT h.Event FROM {s}.History h JOIN {s}.Instances i "
            "ON i.TaskHub = h.TaskHub AND i.InstanceID = h.InstanceID AND i.ExecutionID = h.ExecutionID "
            "WHERE h.TaskHub = $1 AND h.InstanceID = $2 ORDER BY h.SequenceNumber"
        )

    # ---- starting and messaging ---------------------------------------------------------------
    async def create(self, conn: asyncpg.Connection, started: TaskMessage) -> None:
        instance_id = started.instance_id
        async with conn.transaction():
            row = await conn.fetchrow(
                f"SELECT RuntimeStatus, Generation FROM {self.schema}.Instances "
                "WHERE TaskHub = $1 AND InstanceID = $2 FOR UPDATE",
                self.hub,
                instance_id,
            )
            if row is not None and row["runtimestatus"] is not None:
                status = OrchestrationStatus[row["runtimestatus"]]
                if not status.is_terminal:
                    raise InstanceAlreadyExistsError(instance_id, status.name)
                started.event.props["Generation"] = int(row["generation"]) + 1
            state = pending_state(started.event, instance_id, wall_now())
            await conn.execute(self._upsert_sql, self.hub, *state_params(state))
            await self.outbox.send(conn, [started])

    async def send(self, conn: asyncpg.Connection, message: TaskMessage) -> None:
        async with conn.transaction():
            await self.outbox.send(conn, [message])

    # ---- reading ------------------------------------------------------------------------------
    async def state(self, conn: asyncpg.Connection, instance_id: str) -> OrchestrationState | None:
        row = await conn.fetchrow(self._status_sql, self.hub, instance_id)
        return None if row is None else state_of(row)

    async def history(self, conn: asyncpg.Connection, instance_id: str) -> list[HistoryEvent]:
        return [event_of(r["event"]) for r in await conn.fetch(self._history_sql, self.hub, instance_id)]

    async def query(self, conn: asyncpg.Connection, query: InstanceQuery) -> InstancePage:
        where, params = self._filter(query)
        order = query.order
        if query.continuation_token:
            cursor = decode_token(query.continuation_token, order.value)
            if order is InstanceOrder.ID:
                params.append(cursor)
                where.append(f"InstanceID > ${len(params)}")
            else:
                params.extend(parse_time_key(cursor))
                compare = "<" if order is InstanceOrder.NEWEST else ">"
                first, second = f"${len(params) - 1}", f"${len(params)}"
                where.append(f"(CreatedTime, InstanceID) {compare} ({first}, {second})")
        params.append(query.page_size + 1)
        rows = await conn.fetch(
            f"SELECT * FROM {self.schema}.Instances WHERE {' AND '.join(where)} "
            f"ORDER BY {_ORDER_BY[order]} LIMIT ${len(params)}",
            *params,
        )
        states = [state_of(r, with_input=query.show_input) for r in rows[: query.page_size]]
        more = len(rows) > query.page_size and states
        token = encode_token(order_key(states[-1], order), order.value) if more else None
        return InstancePage(states, token)

    async def count(self, conn: asyncpg.Connection, query: InstanceQuery) -> dict[OrchestrationStatus, int]:
        where, params = self._filter(query)
        rows = await conn.fetch(
            f"SELECT RuntimeStatus, count(*) AS n FROM {self.schema}.Instances WHERE {' AND '.join(where)} "
            "GROUP BY RuntimeStatus",
            *params,
        )
        return {OrchestrationStatus[r["runtimestatus"]]: int(r["n"]) for r in rows}

    async def created_times(self, conn: asyncpg.Connection, query: InstanceQuery) -> list[datetime]:
        where, params = self._filter(query)
        rows = await conn.fetch(
            f"SELECT CreatedTime FROM {self.schema}.Instances WHERE {' AND '.join(where)} "
            "AND CreatedTime IS NOT NULL",
            *params,
        )
        return [r["createdtime"] for r in rows]

    def _filter(self, query: InstanceQuery) -> tuple[list[str], list[object]]:
        where = ["TaskHub = $1", "RuntimeStatus IS NOT NULL"]
        params: list[object] = [self.hub]

        def add(clause: str, value: object) -> None:
            params.append(value)
            where.append(clause.format(f"${len(params)}"))

        if not query.include_entities:
            where.append("InstanceID NOT LIKE '@%'")
        if query.instance_id_prefix:
            add("starts_with(InstanceID, {})", query.instance_id_prefix)
        if query.name:
            add("Name = {}", query.name)
        if query.statuses:
            add("RuntimeStatus = ANY({})", sorted(s.name for s in query.statuses))
        if query.created_from is not None:
            add("CreatedTime >= {}", query.created_from)
        if query.created_to is not None:
            add("CreatedTime <= {}", query.created_to)
        for column, text in (("CustomStatus", query.custom_status_contains), ("Input", query.input_contains)):
            if text:  # strpos of lower-cased text: no LIKE wildcards to escape
                add(f"strpos(lower(COALESCE({column}, '')), {{}}) > 0", text.lower())
        return where, params

    async def entities(self, conn: asyncpg.Connection, query: EntityQuery) -> EntityPage:
        prefix = f"@{query.entity_name.lower()}@" if query.entity_name else "@"
        after = decode_token(query.continuation_token) if query.continuation_token else ""
        rows = await conn.fetch(
            f"SELECT * FROM {self.schema}.Instances WHERE TaskHub = $1 AND RuntimeStatus IS NOT NULL "
            "AND starts_with(InstanceID, $2) AND InstanceID > $3 ORDER BY InstanceID",
            self.hub,
            prefix,
            after,
        )
        return entity_page([state_of(r) for r in rows], replace(query, continuation_token=None))

    # ---- finishing, purging, rewinding --------------------------------------------------------
    async def terminate_pending(
        self, conn: asyncpg.Connection, instance_id: str, execution_id: str | None, reason: str | None
    ) -> bool:
        async with conn.transaction():
            row = await conn.fetchrow(self._status_sql + " FOR UPDATE", self.hub, instance_id)
            if row is None:
                return False
            state = state_of(row)
            if state.status != OrchestrationStatus.Pending:
                return False
            if execution_id is not None and state.execution_id != execution_id:
                return False
            now = wall_now()
            done = finished_state(state, instance_id, OrchestrationStatus.Terminated, reason, now)
            await conn.execute(self._upsert_sql, self.hub, *state_params(done))
            return True

    async def purge(self, conn: asyncpg.Connection, instance_ids: list[str]) -> int:
        """Forget the instances' statuses and histories; their waiting messages are dropped when judged."""
        s = self.schema
        async with conn.transaction():
            gone = await conn.fetch(
                f"UPDATE {s}.Instances SET {_CLEARED}, Generation = 0, RowVersion = RowVersion + 1 "
                "WHERE TaskHub = $1 AND InstanceID = ANY($2) AND RuntimeStatus IS NOT NULL "
                "RETURNING InstanceID",
                self.hub,
                instance_ids,
            )
            ids = [r["instanceid"] for r in gone]
            await conn.execute(
                f"DELETE FROM {s}.History WHERE TaskHub = $1 AND InstanceID = ANY($2)", self.hub, ids
            )
            await conn.execute(
                f"DELETE FROM {s}.Instances i WHERE i.TaskHub = $1 AND i.InstanceID = ANY($2) "
                "AND i.RuntimeStatus IS NULL AND (i.LockExpiration IS NULL OR i.LockExpiration < now()) "
                f"AND NOT EXISTS (SELECT 1 FROM {s}.NewEvents e "
                "WHERE e.TaskHub = $1 AND e.InstanceID = i.InstanceID)",
                self.hub,
                ids,
            )
        return len(ids)

    async def purge_matching(self, conn: asyncpg.Connection, query: InstanceQuery) -> int:
        statuses = purgeable_statuses(query.statuses)
        if not statuses:
            return 0
        where, params = self._filter(replace(query, statuses=statuses, continuation_token=None))
        rows = await conn.fetch(
            f"SELECT InstanceID FROM {self.schema}.Instances WHERE {' AND '.join(where)}", *params
        )
        return await self.purge(conn, [r["instanceid"] for r in rows])

    async def rewrite_history(self, conn: asyncpg.Connection, instance_id: str, plan: RewindPlan) -> None:
        """Apply a rewind to the current execution's history; a running episode can no longer commit."""
        s = self.schema
        async with conn.transaction():
            row = await conn.fetchrow(self._status_sql + " FOR UPDATE", self.hub, instance_id)
            if row is None:
                return
            execution_id = row["executionid"]
            events = await self.history(conn, instance_id)
            rewritten = apply_rewind(events, plan)
            await conn.execute(
                f"DELETE FROM {s}.History WHERE TaskHub = $1 AND InstanceID = $2 AND ExecutionID = $3",
                self.hub,
                instance_id,
                execution_id,
            )
            await conn.executemany(
                INSERT_HISTORY.format(s=s), history_rows(self.hub, instance_id, execution_id, 0, rewritten)
            )
            await conn.execute(
                f"UPDATE {s}.Instances SET RowVersion = RowVersion + 1 "
                "WHERE TaskHub = $1 AND InstanceID = $2",
                self.hub,
                instance_id,
            )

    async def mark_pending(self, conn: asyncpg.Connection, instance_id: str, now: datetime) -> None:
        async with conn.transaction():
            row = await conn.fetchrow(self._status_sql + " FOR UPDATE", self.hub, instance_id)
            if row is not None:
                await conn.execute(
                    self._upsert_sql, self.hub, *state_params(pending_again(state_of(row), now))
                )
