"""The Azure Storage orchestration service: composes queues, tables, sessions and partitions."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from ..core.clock import WALL_CLOCK, Clock
from ..core.entity_queries import EntityPage, EntityQuery
from ..core.health import StorageHealth
from ..core.history import EventType, HistoryEvent, OrchestrationStatus, event
from ..core.messages import TaskMessage
from ..core.poison import PoisonAction, PoisonMessage, judge_poison
from ..core.queries import InstancePage, InstanceQuery
from ..core.service import ActivityWorkItem, EpisodeResult, OrchestrationWorkItem
from ..core.state import OrchestrationRuntimeState, OrchestrationState
from ..errors import InstanceAlreadyExistsError
from .activities import ActivityQueueReader
from .app_lease import AppLease
from .background import BackgroundCalls
from .clients import StorageClients, is_transient, retry_transient
from .consumed import ConsumedMessages
from .control_queues import ControlQueueListener
from .delivery import MessageDelivery
from .entity_listing import query_entity_page
from .history_cache import HistoryCache
from .history_store import HistoryStore, LoadedHistory
from .index_queries import counts_served, index_counts, index_created_times, index_page, index_serves
from .index_repair import IndexRepair
from .instance_index import InstanceIndex
from .instance_queries import count_rows, created_times_of_rows, query_page
from .instance_store import InstanceStore, changes_status, state_from_row
from .jobs import AzureJobStore
from .large_payloads import LargePayloads
from .lean_table import lean_table
from .lease_blobs import LeaseBlobs
from .message_filter import MessageFilter
from .names import TaskHubNames
from .partition_manager import PartitionManager
from .peer_wakeups import PeerWakeups
from .poison import PoisonStore, poison_message
from .purge import InstancePurger
from .queues import TaskHubQueue
from .rewind import HistoryRewinder
from .routing import partition_for
from .sessions import OrchestrationSession, SessionManager
from .settings import AzureStorageSettings
from .task_hub import TaskHubResources

log = logging.getLogger("durable_ext.service")

TRANSIENT_RETRY_DELAY_S = 1.0
T = TypeVar("T")


async def _retried(operation: Callable[[], Awaitable[T]], what: str) -> T:
    return await retry_transient(operation, what, attempts=4)


class AzureStorageOrchestrationService:
    """Both sides of the provider: the worker's work items and the client's operations."""

    def __init__(self, settings: AzureStorageSettings) -> None:
        self.settings = settings
        self.names = TaskHubNames(settings.hub_name, settings.partition_count)
        self.clients = StorageClients.from_connection_string(
            settings.connection_string, settings.connection_name, settings.timeouts
        )
        self.control_queues = [
            TaskHubQueue(
                self.clients.queues.get_queue_client(name),
                settings.control_queue_visibility_timeout_s,
                settings.max_queue_polling_interval_s,
            )
            for name in self.names.control_queues
        ]
        self.work_item_queue = TaskHubQueue(
            self.clients.queues.get_queue_client(self.names.work_item_queue),
            settings.work_item_queue_visibility_timeout_s,
            settings.max_queue_polling_interval_s,
        )
        self.payloads = LargePayloads(self.clients.blobs, self.names.large_messages_container)
        for queue in [*self.control_queues, self.work_item_queue]:
            queue.payloads = self.payloads
        self.history = HistoryStore(
            self.clients.tables.get_table_client(self.names.history_table), self.payloads
        )
        index_table = self.clients.tables.get_table_client(self.names.instance_index_table)
        self.index = InstanceIndex(index_table, settings.worker_id, lean_table(index_table))
        self.jobs = AzureJobStore(index_table)
        self.instances = InstanceStore(
            self.clients.tables.get_table_client(self.names.instances_table),
            settings.hub_name,
            self.payloads,
            self.index,
        )
        self.resources = TaskHubResources(
            self.clients, self.names, [*self.control_queues, self.work_item_queue]
        )
        self.sessions = SessionManager(self.history, HistoryCache(settings.history_cache_size))
        self.consumed = ConsumedMessages()
        self.filter = MessageFilter(self.instances, settings, self.consumed)
        self.poison = PoisonStore(self.clients.tables.get_table_client(self.names.poison_table))
        self.listener = ControlQueueListener(self.sessions, settings, self._unreadable)
        self.activity_reader = ActivityQueueReader(
            self.work_item_queue, settings, self._unreadable, self.poison
        )
        self.delivery = MessageDelivery(
            self.control_queues, self.work_item_queue, self.listener, self.sessions, self.activity_reader
        )
        self.background = BackgroundCalls()
        """Deletes of handled messages, which the next episode does not wait for."""
        self._failures: dict[str, BaseException] = {}
        """The last error of each instance whose episode failed in this process."""
        self.purger = InstancePurger(
            self.history, self.instances, self.clients.blobs, self.names.large_messages_container
        )
        self.rewinder = HistoryRewinder(self.history.table, self.instances)
        self.queues_by_name = {queue.name: queue for queue in self.control_queues}
        leases = LeaseBlobs(
            self.clients.blobs.get_container_client(self.names.leases_container), settings.worker_id
        )
        self.wakeups = PeerWakeups(
            settings.hub_name,
            leases,
            self._woken,
            self.work_item_queue.name,
            settings.wake_address,
            self.clients.queues.url,
        )
        if settings.wake_peers:
            for queue in [*self.control_queues, self.work_item_queue]:
                queue.announce = self.wakeups.announce
        self.partitions = PartitionManager(
            leases,
            self.names.control_queues,
            self,
            settings.leases,
            self.wakeups.observe if settings.wake_peers else None,
            self.wakeups.tell_leases if settings.wake_peers else None,
        )
        self.wakeups.on_leases = self.partitions.wake
        self.app_lease = AppLease(
            self.clients.blobs.get_container_client(self.names.app_lease_container),
            self.names.app_lease_info_blob,
            settings.app_name or settings.hub_name,
            settings.app_lease,
            self._partitions_start,
            self.partitions.stop,
        )
        self._backfill: asyncio.Task[None] | None = None
        self.repair = IndexRepair(self.index, self.instances)
        self._hub_ready = asyncio.Lock()
        self._hub_created = False
        self._stopping = False

    # ---- lifecycle ----------------------------------------------------------------------------
    async def ensure_task_hub(self) -> None:
        async with self._hub_ready:
            if not self._hub_created:
                await self.resources.ensure()
                await retry_transient(
                    lambda: self.index.open(self.instances.table), "Opening the instance index"
                )
                self._hub_created = True

    async def start(self) -> None:
        await self.ensure_task_hub()
        if not self.index.built and self._backfill is None:
            self._backfill = asyncio.create_task(self._fill_index(), name="instance-index-backfill")
        elif self.index.built:
            self.repair.start()
        if self.settings.wake_peers:
            await self._listen_for_signals()
        if self.settings.use_app_lease:
            self.app_lease.start()  # starts the partition manager once this app holds the lease
        else:
            self.partitions.start()
        self.activity_reader.start()

    async def _fill_index(self) -> None:
        """A hub from before the instance index: list its instances there (listings read the Instances
        table until this is done)."""
        try:
            added = await self.index.backfill(self.instances.table)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("Filling the instance index failed; the next start tries again: %s", exc)
            return
        log.info("The instance index now lists the %d instances from before it", added)
        self.repair.start()

    async def _listen_for_signals(self) -> None:
        try:
            await self.wakeups.start()
        except Exception as exc:  # only a shortcut: without it, other workers' messages wait for a poll
            log.warning(
                "Not taking wake-up signals from other workers (%s): messages they send to this worker's "
                "queues are read at the next poll, up to %.0f s later. Set storageProvider.wakeAddress "
                "to an address of this machine that the others reach.",
                exc,
                self.settings.max_queue_polling_interval_s,
            )

    def _woken(self, name: str, delay_s: float) -> bool:
        """A signal from another worker: read ``name`` now, or when its message becomes visible."""
        queue = self.queues_by_name.get(name)
        if queue is None and name == self.work_item_queue.name:
            queue = self.work_item_queue
        if queue is None:
            return False
        queue.look_in(delay_s)
        return True

    async def _partitions_start(self) -> None:
        self.partitions.start()

    async def stop_receiving(self) -> None:
        """Stop taking new work and put back what was buffered; running work goes on."""
        await self.partitions.stop_receiving()
        await self.activity_reader.stop()

    async def stop(self) -> None:
        """After the running work is done: release the leases and what is left in memory."""
        self._stopping = True
        await self.stop_receiving()
        await self.background.drain()
        left = await self.sessions.close()  # nothing runs any more: what is still held goes back
        await asyncio.gather(*(m.queue.release(m.queue_message) for m in left), return_exceptions=True)
        await self.partitions.stop()
        await self.app_lease.stop()
        await self.listener.stop()
        self.wakeups.close()

    # ---- partition hooks (called by the partition manager) ---------------------------------------
    async def start_partition(self, partition: str) -> None:
        self._forget_cached(partition)  # another worker may have written its histories meanwhile
        self.listener.add_queue(self.queues_by_name[partition])

    async def stop_partition(self, partition: str) -> None:
        await self.listener.remove_queue(partition)
        dropped = self.sessions.drop_queue_messages(partition)
        self._forget_cached(partition)
        await asyncio.gather(*(m.queue.release(m.queue_message) for m in dropped), return_exceptions=True)

    def _forget_cached(self, partition: str) -> None:
        self.sessions.cache.drop_where(lambda instance: self.control_queue_for(instance).name == partition)

    def is_busy(self, partition: str) -> bool:
        return any(self.control_queue_for(i).name == partition for i in self.sessions.busy_instances)

    async def close(self) -> None:
        self.wakeups.close()
        if self._backfill is not None:
            self._backfill.cancel()
            await asyncio.gather(self._backfill, return_exceptions=True)
        await self.repair.stop()
        await self.index.close()
        await self.clients.close()

    # ---- what the extension and the host show about the hub ------------------------------------
    durable = True

    @property
    def hub_name(self) -> str:
        return self.settings.hub_name

    @property
    def health(self) -> StorageHealth:
        return self.clients.health

    @property
    def clock(self) -> Clock:
        return WALL_CLOCK  # queue visibility and leases run on storage's time

    def owned_partitions(self) -> list[str]:
        return sorted(self.listener.queue_names)

    async def delete_task_hub(self) -> list[str]:
        return await self.resources.delete()

    def metrics(self) -> dict[str, Any]:
        """What this process has spent on storage and saved by keeping things local, since it started."""
        cache = self.sessions.cache
        return {
            "storageOperations": self.clients.operations.snapshot(),
            "storageOperationsTotal": self.clients.operations.total,
            "historyCache": {"entries": len(cache), "hits": cache.hits, "misses": cache.misses},
            "messagesHandedOverLocally": self.delivery.held_locally,
            "ownedControlQueues": self.listener.queue_names,
            "wakeUps": self.wakeups.metrics(),
        }

    # ---- routing ------------------------------------------------------------------------------
    def control_queue_for(self, instance_id: str) -> TaskHubQueue:
        return self.control_queues[partition_for(instance_id, self.settings.partition_count)]

    # ---- orchestration work items -------------------------------------------------------------
    async def lock_next_orchestration_work_item(self) -> OrchestrationWorkItem | None:
        while not self._stopping:
            session = await self.sessions.next()
            if session is None:
                return None
            runnable = await self.filter.runnable(session)
            if runnable is None:  # the cached history would throw a message away: judge on a fresh read
                await self.sessions.reload(session)
                runnable = await self.filter.runnable(session)
            reason = await self._poison_check(session) if runnable else None
            if session.messages and runnable:
                past = [] if session.new_execution else session.history.events
                return OrchestrationWorkItem(
                    session.instance_id,
                    OrchestrationRuntimeState(past_events=list(past)),
                    [m.message for m in session.messages],
                    session,
                    poison_reason=reason,
                )
            if not session.new_execution and not session.from_cache:
                self._remember(session.instance_id, session.history)  # nothing ran: it is still the history
            self.sessions.release(session)
        return None

    async def _poison_check(self, session: OrchestrationSession) -> str | None:
        """The shared poison rule (``judge_poison``) applied to this hub: the reason to fail the
        instance, else ``None`` (storage outages are waited out, never poison)."""
        error = self._failures.get(session.instance_id)
        if error is not None and is_transient(error):
            return None
        last = f"{type(error).__name__}: {error}" if error is not None else None
        threshold = self.settings.poison_message_dequeue_count
        counts = [m.dequeue_count for m in session.messages]
        verdict = judge_poison(session.instance_id, counts, threshold, last)
        if verdict is None:
            return None
        if verdict.action is PoisonAction.MOVE_POISON:
            await self._quarantine(session, verdict.reason)
            session.messages = [m for m in session.messages if not verdict.is_poison(m.dequeue_count)]
            return None
        if verdict.action is PoisonAction.FAIL_AND_MOVE_ALL:
            await self.instances.mark_failed(session.instance_id, verdict.reason)
            await self._quarantine(session, verdict.reason, everything=True)
            session.messages = []
            return None
        return verdict.reason

    async def _quarantine(
        self, session: OrchestrationSession, reason: str, *, everything: bool = False
    ) -> None:
        threshold = self.settings.poison_message_dequeue_count
        for m in session.messages:
            if everything or m.dequeue_count > threshold:
                await self.poison.quarantine(m.queue, m.queue_message, reason, session.instance_id)

    async def _unreadable(self, queue: TaskHubQueue, raw: Any, reason: str) -> None:
        """A message that is not a task message: retried a few times (its blob may be late), then moved."""
        if int(raw.dequeue_count or 0) >= self.settings.poison_message_dequeue_count:
            await self.poison.quarantine(queue, raw, f"The message is not a task message: {reason}.")
        else:
            log.warning(
                "Message %s in '%s' cannot be used yet (%s); it is retried", raw.id, queue.name, reason
            )
            await queue.abandon(raw)

    async def complete_orchestration_work_item(
        self, item: OrchestrationWorkItem, result: EpisodeResult
    ) -> None:
        session: OrchestrationSession = item.session
        state = result.runtime_state
        etag = session.history.etag
        # A dropped connection is retried at once. Each step is safe to repeat: messages are
        # deduplicated on receipt, and a history commit that did land makes its retry an ETag conflict,
        # which abandons the episode so it is redone on the committed history.
        await _retried(
            lambda: self.delivery.send_all(result), f"Sending the messages of '{item.instance_id}'"
        )
        consumed = self.consumed.record(
            item.instance_id, session.history.consumed, session.messages, session.redelivered
        )
        etag = await _retried(
            lambda: self.history.commit(
                item.instance_id,
                state.execution_id or "",
                len(state.past_events),
                state.new_events,
                etag,
                consumed,
                len(session.history.events),
            ),
            f"Committing the history of '{item.instance_id}'",
        )
        written = await self._update_status(
            item.instance_id, result, session.history.status_written, session.history.events
        )
        self._remember(
            item.instance_id,
            LoadedHistory(
                [*state.past_events, *state.new_events], state.execution_id, etag, written, consumed
            ),
            state.status.is_terminal,
        )
        self._failures.pop(item.instance_id, None)
        if item.poison_reason is not None:
            await self._quarantine(session, item.poison_reason)
        for m in session.messages:
            self.background.spawn(functools.partial(self.consumed.delete, m), f"Deleting message {m.id}")
        self.sessions.release(session)

    async def _update_status(
        self,
        instance_id: str,
        result: EpisodeResult,
        written: tuple[str | None, str] | None,
        past_events: list[HistoryEvent],
    ) -> tuple[str | None, str] | None:
        """Update the Instances row unless this episode changes nothing there but ``LastUpdatedTime``;
        return what the row now holds, as far as this worker knows. ``past_events``: the history the
        episode began from (its start's time is where the index may list the instance)."""
        state = result.runtime_state
        custom = None if result.keep_custom_status else (result.custom_status or "null")
        same_execution = written is not None and written[0] == state.execution_id
        same_custom = custom is None or (written is not None and custom == written[1])
        if same_execution and same_custom and not changes_status(state):
            return written
        before = OrchestrationRuntimeState(past_events=past_events).execution_started
        previous_created = before.timestamp if before is not None else None
        await _retried(
            lambda: self.instances.update_from_episode(
                state,
                result.custom_status,
                keep_custom_status=result.keep_custom_status,
                previous_created=previous_created,
            ),
            f"Updating the status of '{instance_id}'",
        )
        if custom is None:
            return written if same_execution else None
        return (state.execution_id, custom)

    def _remember(self, instance_id: str, history: LoadedHistory, finished: bool | None = None) -> None:
        """Keep the history for the instance's next episode, unless the instance is finished."""
        if finished is None:
            finished = OrchestrationRuntimeState(past_events=history.events).status.is_terminal
        owned = self.delivery.owns(self.control_queue_for(instance_id))
        if history.execution_id is None or finished or not owned:
            self.sessions.cache.drop(instance_id)
        else:
            self.sessions.cache.put(instance_id, history)

    async def abandon_orchestration_work_item(
        self, item: OrchestrationWorkItem, error: BaseException | None = None
    ) -> None:
        session: OrchestrationSession = item.session
        if error is not None:
            self._failures[item.instance_id] = error
        # after a storage fault the episode is simply redone soon; other failures back off
        delay = TRANSIENT_RETRY_DELAY_S if error is not None and is_transient(error) else None
        try:
            await asyncio.gather(*(m.queue.put_back(m.queue_message, delay) for m in session.messages))
        finally:
            self.sessions.release(session)

    async def release_orchestration_work_item(self, item: OrchestrationWorkItem) -> None:
        self.sessions.release(item.session)

    # ---- activity work items ------------------------------------------------------------------
    async def lock_next_activity_work_item(self) -> ActivityWorkItem | None:
        return await self.activity_reader.next()

    async def complete_activity_work_item(self, item: ActivityWorkItem, response: TaskMessage) -> None:
        await _retried(lambda: self.delivery.deliver(response), f"Sending the result of activity {item.id}")
        await self.activity_reader.done(item, self.background)

    async def abandon_activity_work_item(self, item: ActivityWorkItem) -> None:
        await self.activity_reader.abandon(item)

    # ---- client operations --------------------------------------------------------------------
    async def create_instance(self, started: TaskMessage) -> None:
        """Send the start, then write the ``Pending`` row (the reference's order: a start whose row
        never appears is dropped by the worker, never a row without a start).

        An immediate start is sent already invisible and held, so no worker takes it before its row is
        written; then this worker runs it (if it owns the queue) or lets it go.
        """
        await self.ensure_task_hub()
        queue = self.control_queue_for(started.instance_id)
        if started.visible_at is None:
            held = await queue.send_held(started)
            if await self.instances.create_pending(started.event, started.instance_id):
                held.status_row_known = True
                await self.delivery.hand_over(held, new_instance=True)
                return
            await queue.delete(held.queue_message)  # the instance has a row: decide as below
        row = await self.instances.get_row(started.instance_id)
        if row is not None:
            status = OrchestrationStatus[str(row.get("RuntimeStatus") or "Pending")]
            if not status.is_terminal:
                raise InstanceAlreadyExistsError(started.instance_id, status.name)
            started.event.props["Generation"] = int(row.get("Generation") or 0) + 1
        if started.visible_at is not None:
            await queue.send(started, wake=False)
            await self._write_pending(started, row)
            return
        held = await queue.send_held(started)
        held.status_row_known = await self._write_pending(started, row)
        await self.delivery.hand_over(held)

    async def _write_pending(self, started: TaskMessage, row: dict[str, Any] | None) -> bool:
        if row is None:
            return await self.instances.create_pending(started.event, started.instance_id)
        return await self.instances.write_pending(started.event, started.instance_id, row)

    async def send_message(self, message: TaskMessage) -> None:
        """A client's message (event, signal, terminate, ...): put once, even when storage fails in a
        way that leaves unknown whether the put landed (the caller gets the error and decides)."""
        await self.ensure_task_hub()
        await self.delivery.deliver(message, once=True)

    async def get_state(self, instance_id: str) -> OrchestrationState | None:
        await self.ensure_task_hub()
        row = await self.instances.get_row(instance_id)
        return None if row is None else state_from_row(await self.instances.fetch_large_values(row))

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        await self.ensure_task_hub()
        return (await self.history.load(instance_id)).events

    async def terminate_pending(self, instance_id: str, execution_id: str | None, reason: str | None) -> bool:
        await self.ensure_task_hub()
        return await self.instances.mark_terminated(instance_id, execution_id, reason)

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """Rewrite the failures in history, then wake every failed leaf with a ``GenericEvent``."""
        await self.ensure_task_hub()
        for leaf in await self.rewinder.rewind(instance_id):
            await self.send_message(TaskMessage(event(EventType.GenericEvent, -1, Data=reason), leaf, None))

    async def purge_instance(self, instance_id: str) -> int:
        await self.ensure_task_hub()
        return await self.purger.purge_one(instance_id)

    async def purge_instances(self, query: InstanceQuery) -> int:
        await self.ensure_task_hub()
        return await self.purger.purge_many(query)

    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        await self.ensure_task_hub()
        if index_serves(self.index, query):
            return await index_page(self.index, self.instances, query)
        return await query_page(self.instances.table, query)

    async def count_instances(self, query: InstanceQuery) -> dict[OrchestrationStatus, int]:
        await self.ensure_task_hub()
        if counts_served(self.index, query):
            return await index_counts(self.index, query)
        return await count_rows(self.instances.table, query)

    async def created_times(self, query: InstanceQuery) -> list[datetime]:
        await self.ensure_task_hub()
        if counts_served(self.index, query):
            return await index_created_times(self.index, query)
        return await created_times_of_rows(self.instances.table, query)

    async def poison_messages(self, instance_id: str | None = None) -> list[PoisonMessage]:
        await self.ensure_task_hub()
        return [poison_message(row) for row in await self.poison.list(instance_id)]

    async def query_entities(self, query: EntityQuery) -> EntityPage:
        await self.ensure_task_hub()
        return await query_entity_page(self.instances, query)
