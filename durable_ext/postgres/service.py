"""The PostgreSQL orchestration service: both sides of the provider protocols over one connection pool.

Any worker takes any instance (no partitions): the row locks of :mod:`.episodes` and :mod:`.tasks` keep
two workers off one instance or one activity. Fetch loops wake on notifications (:mod:`.wakeups`) and
poll with back-off when none come; the locks of running work are renewed every third of their length.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

from ..core.clock import WALL_CLOCK, Clock
from ..core.entity_queries import EntityPage, EntityQuery
from ..core.health import StorageHealth
from ..core.history import EventType, HistoryEvent, OrchestrationStatus, event
from ..core.messages import TaskMessage
from ..core.poison import PoisonMessage
from ..core.queries import InstancePage, InstanceQuery
from ..core.rewind import RewindPlan, rewind_instances
from ..core.service import ActivityWorkItem, EpisodeResult, OrchestrationWorkItem
from ..core.state import OrchestrationState
from ..errors import ConfigurationError, TransientStorageError
from .codec import wall_now
from .episodes import EpisodeLock, EpisodeStore
from .faults import TRANSIENT, fault_of
from .instances import InstanceStore
from .jobs import PostgresJobStore
from .schema import drop_hub, migrate
from .settings import PostgresSettings
from .tasks import TaskLock, TaskStore
from .wakeups import EVENTS, TASKS, Backoff, Wakeups, channel_of

log = logging.getLogger("durable_ext.postgres")

CONNECT_TIMEOUT_S = 5.0


class PostgresOrchestrationService:
    durable = True

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings
        self.hub = settings.hub_name.lower()
        schema = settings.schema
        self.episodes = EpisodeStore(
            schema,
            self.hub,
            settings.worker_id,
            settings.lock_timeout_s,
            settings.batch_size,
            settings.poison_message_dequeue_count,
        )
        self.tasks = TaskStore(
            schema,
            self.hub,
            settings.worker_id,
            settings.lock_timeout_s,
            settings.poison_message_dequeue_count,
        )
        self.instances = InstanceStore(schema, self.hub)
        self.jobs = PostgresJobStore(self.connection, schema, self.hub)
        self.wakeups = Wakeups(settings.dsn, channel_of(schema, self.hub))
        self._health = StorageHealth(_server_of(settings.dsn), settings.connection_name)
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._migrated = False
        self._receiving = False
        self._held_episodes: dict[uuid.UUID, str] = {}
        self._held_tasks: set[uuid.UUID] = set()
        self._last_errors: dict[str, str] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._backoff = {
            EVENTS: Backoff(settings.max_polling_interval_s),
            TASKS: Backoff(settings.max_polling_interval_s),
        }
        self.episodes_committed = 0
        self.activities_completed = 0

    # ---- what the extension and the host show about the hub ------------------------------------
    @property
    def hub_name(self) -> str:
        return self.settings.hub_name

    @property
    def health(self) -> StorageHealth:
        return self._health

    @property
    def clock(self) -> Clock:
        return WALL_CLOCK

    def metrics(self) -> dict[str, Any]:
        return {
            "provider": "postgres",
            "episodesCommitted": self.episodes_committed,
            "activitiesCompleted": self.activities_completed,
            "notificationsReceived": self.wakeups.received,
            "episodesRunning": len(self._held_episodes),
            "activitiesRunning": len(self._held_tasks),
        }

    def owned_partitions(self) -> list[str]:
        return ["postgres"] if self._receiving else []

    # ---- connections ----------------------------------------------------------------------------
    async def _get_pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._pool_lock:
            if self._pool is None:
                try:
                    pool = await asyncpg.create_pool(
                        self.settings.dsn,
                        min_size=1,
                        max_size=self.settings.pool_size,
                        timeout=CONNECT_TIMEOUT_S,
                        command_timeout=60,
                        reset=_reset,
                    )
                except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                    self._health.failed(fault_of(exc))
                    raise ConfigurationError(
                        f"Cannot connect to PostgreSQL at {_server_of(self.settings.dsn)} "
                        "(the connection string "
                        f"in app setting '{self.settings.connection_name}'): {exc}"
                    ) from exc
                assert pool is not None
                if not self._migrated:
                    async with pool.acquire() as conn:
                        applied = await migrate(conn, self.settings.schema)
                    if applied:
                        log.info(
                            "PostgreSQL schema '%s' migrated to version %d", self.settings.schema, applied[-1]
                        )
                    self._migrated = True
                self._pool = pool
                self._health.succeeded()
        assert self._pool is not None
        return self._pool

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection to the hub's database (faults raised as :class:`TransientStorageError`)."""
        pool = await self._get_pool()
        try:
            async with pool.acquire() as conn:
                yield conn
            self._health.succeeded()
        except TRANSIENT as exc:
            self._health.failed(fault_of(exc))
            raise TransientStorageError(f"PostgreSQL at {_server_of(self.settings.dsn)}: {exc}") from exc

    async def ensure_task_hub(self) -> None:
        await self._get_pool()

    # ---- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        await self._get_pool()
        self.wakeups.start()
        self._receiving = True
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_locks(), name="postgres-lock-renewal")

    async def stop_receiving(self) -> None:
        self._receiving = False
        for kind in (EVENTS, TASKS):
            self.wakeups.events[kind].set()

    async def stop(self) -> None:
        await self.stop_receiving()
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        await self.wakeups.close()

    async def close(self) -> None:
        await self.wakeups.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def delete_task_hub(self) -> list[str]:
        async with self.connection() as conn:
            deleted = await drop_hub(conn, self.settings.schema, self.hub)
        return (
            [f"{deleted} rows of task hub '{self.hub}' in schema '{self.settings.schema}'"] if deleted else []
        )

    async def _renew_locks(self) -> None:
        while True:
            await asyncio.sleep(self.settings.lock_timeout_s / 3)
            try:
                async with self.connection() as conn:
                    await self.episodes.renew(conn, list(self._held_episodes))
                    await self.tasks.renew(conn, list(self._held_tasks))
            except Exception as exc:
                log.warning("Renewing the locks of running work failed (retrying): %s", exc)

    async def _idle(self, kind: str, due_s: float | None = None) -> None:
        """Wait for a notification, the back-off, or the next delayed message, whichever comes first
        (a timer set before this worker started has sent its notification to nobody)."""
        wait_s = self._backoff[kind].next()
        if due_s is not None:
            wait_s = min(wait_s, due_s + 0.01)
        await self.wakeups.wait(kind, wait_s)

    # ---- orchestration work items -------------------------------------------------------------
    async def lock_next_orchestration_work_item(self) -> OrchestrationWorkItem | None:
        while self._receiving:
            due_s: float | None = None
            try:
                async with self.connection() as conn:
                    found = await self.episodes.lock_next(conn, self._last_errors)
                    if found is None:
                        due_s = await self.episodes.next_due_s(conn)
            except TransientStorageError as exc:
                log.warning("Looking for episodes failed (retrying): %s", exc)
                found = None
            if isinstance(found, OrchestrationWorkItem):
                self._backoff[EVENTS].found()
                lock: EpisodeLock = found.session
                self._held_episodes[lock.token] = found.instance_id
                return found
            if found is None:
                await self._idle(EVENTS, due_s)
        return None

    async def complete_orchestration_work_item(
        self, item: OrchestrationWorkItem, result: EpisodeResult
    ) -> None:
        try:
            async with self.connection() as conn:
                await self.episodes.commit(conn, item, result)
        finally:  # committed, or not: either way its lock is renewed no more (it expires if held)
            self._forget(item)
        self._last_errors.pop(item.instance_id, None)
        self.episodes_committed += 1

    async def abandon_orchestration_work_item(
        self, item: OrchestrationWorkItem, error: BaseException | None = None
    ) -> None:
        if error is not None:
            self._last_errors[item.instance_id] = f"{type(error).__name__}: {error}"
        self._forget(item)
        async with self.connection() as conn:
            await self.episodes.release(conn, item, delay_s=1.0 if error is not None else 0.0)

    async def release_orchestration_work_item(self, item: OrchestrationWorkItem) -> None:
        self._forget(item)
        async with self.connection() as conn:
            await self.episodes.release(conn, item)

    def _forget(self, item: OrchestrationWorkItem) -> None:
        lock: EpisodeLock = item.session
        self._held_episodes.pop(lock.token, None)

    # ---- activity work items ------------------------------------------------------------------
    async def lock_next_activity_work_item(self) -> ActivityWorkItem | None:
        while self._receiving:
            try:
                async with self.connection() as conn:
                    item = await self.tasks.lock_next(conn)
            except TransientStorageError as exc:
                log.warning("Looking for activities failed (retrying): %s", exc)
                item = None
            if item is not None:
                self._backoff[TASKS].found()
                lock: TaskLock = item.session
                self._held_tasks.add(lock.token)
                return item
            await self._idle(TASKS)
        return None

    async def complete_activity_work_item(self, item: ActivityWorkItem, response: TaskMessage) -> None:
        try:
            async with self.connection() as conn:
                await self.tasks.complete(conn, item, response)
        finally:  # a lock that is not renewed expires, and the activity runs again elsewhere
            self._held_tasks.discard(item.session.token)
        self.activities_completed += 1

    async def abandon_activity_work_item(self, item: ActivityWorkItem) -> None:
        self._held_tasks.discard(item.session.token)
        async with self.connection() as conn:
            await self.tasks.abandon(conn, item)

    # ---- client operations --------------------------------------------------------------------
    async def create_instance(self, started: TaskMessage) -> None:
        async with self.connection() as conn:
            await self.instances.create(conn, started)

    async def send_message(self, message: TaskMessage) -> None:
        async with self.connection() as conn:
            await self.instances.send(conn, message)

    async def get_state(self, instance_id: str) -> OrchestrationState | None:
        async with self.connection() as conn:
            return await self.instances.state(conn, instance_id)

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        async with self.connection() as conn:
            return await self.instances.history(conn, instance_id)

    async def terminate_pending(self, instance_id: str, execution_id: str | None, reason: str | None) -> bool:
        async with self.connection() as conn:
            return await self.instances.terminate_pending(conn, instance_id, execution_id, reason)

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        for leaf in await rewind_instances(instance_id, _Rewind(self)):
            await self.send_message(TaskMessage(event(EventType.GenericEvent, -1, Data=reason), leaf, None))

    async def purge_instance(self, instance_id: str) -> int:
        async with self.connection() as conn:
            return await self.instances.purge(conn, [instance_id])

    async def purge_instances(self, query: InstanceQuery) -> int:
        async with self.connection() as conn:
            return await self.instances.purge_matching(conn, query)

    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        async with self.connection() as conn:
            return await self.instances.query(conn, query)

    async def count_instances(self, query: InstanceQuery) -> dict[OrchestrationStatus, int]:
        async with self.connection() as conn:
            return await self.instances.count(conn, query)

    async def created_times(self, query: InstanceQuery) -> list[datetime]:
        async with self.connection() as conn:
            return await self.instances.created_times(conn, query)

    async def query_entities(self, query: EntityQuery) -> EntityPage:
        async with self.connection() as conn:
            return await self.instances.entities(conn, query)

    async def poison_messages(self, instance_id: str | None = None) -> list[PoisonMessage]:
        s = self.settings.schema
        async with self.connection() as conn:
            rows = await conn.fetch(
                f"SELECT * FROM {s}.PoisonMessages WHERE TaskHub = $1 "
                "AND ($2::text IS NULL OR InstanceID = $2) "
                "ORDER BY ID",
                self.hub,
                instance_id,
            )
        return [
            PoisonMessage(
                r["instanceid"],
                r["queue"],
                str(r["id"]),
                r["reason"],
                r["dequeuecount"],
                r["timestamp"],
                r["message"],
            )
            for r in rows
        ]


class _Rewind:
    """The rewind's view of the hub (:class:`durable_ext.core.rewind.RewindStore`)."""

    def __init__(self, service: PostgresOrchestrationService) -> None:
        self.service = service

    async def current_execution(self, instance_id: str) -> list[HistoryEvent]:
        return await self.service.get_history(instance_id)

    async def rewrite(self, instance_id: str, plan: RewindPlan) -> None:
        async with self.service.connection() as conn:
            await self.service.instances.rewrite_history(conn, instance_id, plan)

    async def mark_pending(self, instance_id: str) -> None:
        async with self.service.connection() as conn:
            await self.service.instances.mark_pending(conn, instance_id, wall_now())


def _server_of(dsn: str) -> str:
    """``host:port/database`` of a connection string, without its password."""
    from urllib.parse import urlsplit

    if "://" not in dsn:
        fields = dict(part.split("=", 1) for part in dsn.split() if "=" in part)
        return f"{fields.get('host', 'localhost')}:{fields.get('port', '5432')}/{fields.get('dbname', '')}"
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"


async def _reset(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool: nothing, unless a transaction was left
    open. The provider keeps no session state on pooled connections (no LISTEN, no session advisory
    locks, no cursors or temporary tables), so asyncpg's full reset would only cost a round trip per use."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")
