"""The in-memory orchestration service: both sides of the provider protocols, in process.

The engine runs on it unchanged. Nothing survives the process; there are no leases (one process owns
the one "partition"). Durable time is the service's :class:`VirtualClock`: every due time is compared
with it, and with ``time_skipping`` on it jumps to the next due message whenever the engine has
nothing it could run (see :mod:`.time_skipping`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..core.admission import admit
from ..core.clock import VirtualClock
from ..core.entity_queries import EntityPage, EntityQuery
from ..core.health import StorageHealth
from ..core.history import EventType, HistoryEvent, OrchestrationStatus, event
from ..core.listing import count_by_status, entity_page, instance_page, matching
from ..core.messages import TaskMessage
from ..core.poison import PoisonAction, PoisonMessage, judge_poison, poison_reason
from ..core.projection import episode_state, finished_state, pending_again, pending_state
from ..core.queries import InstancePage, InstanceQuery, purgeable_statuses
from ..core.rewind import RewindPlan, apply_rewind, rewind_instances
from ..core.service import ActivityWorkItem, EpisodeResult, OrchestrationWorkItem
from ..core.state import OrchestrationRuntimeState, OrchestrationState
from ..errors import ConcurrencyConflictError, InstanceAlreadyExistsError, TransientStorageError
from .hub import MemoryTaskHub
from .poison import CONTROL_QUEUE, KEPT_IN, WORK_ITEM_QUEUE
from .records import InstanceRecord, OrchestrationLease, WaitingMessage
from .settings import MemorySettings

log = logging.getLogger("durable_ext.memory")

PARTITION = "memory"


class MemoryOrchestrationService:
    durable = False

    def __init__(self, settings: MemorySettings, clock: VirtualClock | None = None) -> None:
        self.settings = settings
        self._clock = clock or VirtualClock()
        self.hub = MemoryTaskHub(settings, self._clock)
        self.jobs = self.hub.jobs
        self._health = StorageHealth(PARTITION, "storageProvider.type")
        self._health.succeeded()  # always reachable
        self._receiving = False
        self._started = False
        self._used = False

    # ---- what the extension and the host show about the hub ------------------------------------
    @property
    def hub_name(self) -> str:
        return self.settings.hub_name

    @property
    def health(self) -> StorageHealth:
        return self._health

    @property
    def clock(self) -> VirtualClock:
        return self._clock

    def metrics(self) -> dict[str, Any]:
        now = self._clock.now()
        inboxes = [m for r in self.hub.records.values() for m in r.inbox]
        return {
            "instances": sum(1 for r in self.hub.records.values() if r.state is not None),
            "messagesWaiting": len(inboxes),
            "timersWaiting": sum(1 for m in inboxes if not m.visible(now)),
            "activitiesQueued": len(self.hub.activities.queued),
            "activitiesRunning": len(self.hub.activities.running),
            "episodesRunning": len(self.hub.leases),
            "poisonMessages": len(self.hub.poison.messages),
            "clockOffsetSeconds": self._clock.offset.total_seconds(),
            "timeSkips": self.hub.skipper.skips,
        }

    def owned_partitions(self) -> list[str]:
        return [PARTITION] if self._started else []

    async def delete_task_hub(self) -> list[str]:
        self.hub.bind()
        existed = self._used or bool(self.hub.records) or self.hub.activities.busy
        self.hub.clear()
        self._used = False
        self.hub.changed()
        return [f"memory task hub {self.hub_name}"] if existed else []

    # ---- durable time -------------------------------------------------------------------------
    @property
    def time_skipping(self) -> bool:
        """Jump durable time to the next due message whenever the engine has no runnable work."""
        return self.hub.skipper.enabled

    @time_skipping.setter
    def time_skipping(self, value: bool) -> None:
        self.hub.skipper.enabled = value
        self.hub.on_loop(self.hub.skipper.consider)

    @property
    def hold_time(self) -> bool:
        """While True durable time never skips (it still runs at wall speed, and can be advanced)."""
        return self.hub.skipper.held

    @hold_time.setter
    def hold_time(self, value: bool) -> None:
        self.hub.skipper.held = value
        self.hub.on_loop(self.hub.skipper.consider)

    def is_idle(self) -> bool:
        return self.hub.is_idle()

    def next_due(self) -> datetime | None:
        """The earliest due time of a delayed message still waiting (timer, scheduled start or signal)."""
        return self.hub.next_due()

    async def until_idle(self, timeout_s: float) -> None:
        """Return once the engine has no runnable work; :class:`TimeoutError` after ``timeout_s``."""
        self.hub.bind()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.hub.is_idle():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"The memory task hub '{self.hub_name}' still has work after {timeout_s:g} seconds: "
                    f"{self.hub.describe_work()}."
                )
            await self.hub.wait_for_change(remaining)

    # ---- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.hub.bind()
        self.hub.open()
        self._receiving = self._started = self._used = True
        self.hub.changed()

    async def stop_receiving(self) -> None:
        self._receiving = False
        self.hub.changed()  # waiters see it and return None

    async def stop(self) -> None:
        """What the stopped worker still held goes back, to run when a worker starts again."""
        await self.stop_receiving()
        self._started = False
        for lease in list(self.hub.leases.values()):
            self.hub.put_back(lease)
        self.hub.activities.release_all()
        self.hub.changed()

    async def close(self) -> None:
        self.hub.close()

    # ---- orchestration work items -------------------------------------------------------------
    async def lock_next_orchestration_work_item(self) -> OrchestrationWorkItem | None:
        self.hub.bind()
        while self._receiving:
            item = self._next_orchestration()
            if item is not None:
                return item
            await self.hub.wait_for_change()
        return None

    def _next_orchestration(self) -> OrchestrationWorkItem | None:
        now = self._clock.now()
        for instance_id in list(self.hub.inboxed):
            record = self.hub.records[instance_id]
            if not record.locked and record.has_work(now):
                item = self._lock(record, now)
                if item is not None:
                    return item
        return None

    def _lock(self, record: InstanceRecord, now: datetime) -> OrchestrationWorkItem | None:
        admission = admit(record.instance_id, record.history, record.state, record.take_visible(now))
        record.put_back(admission.waiting)
        kept = admission.kept
        reason = self._poison_check(record, kept, now) if kept else None
        if not kept:
            self.hub.tidy(record)
            self.hub.changed()
            return None
        record.locked = True
        lease = OrchestrationLease(record, record.version, kept)
        self.hub.leases[record.instance_id] = lease
        self.hub.tidy(record)
        past = [] if admission.new_execution else record.history
        return OrchestrationWorkItem(
            record.instance_id,
            OrchestrationRuntimeState(past_events=[e.copy() for e in past]),
            [m.message for m in kept],
            lease,
            poison_reason=reason,
        )

    def _poison_check(self, record: InstanceRecord, kept: list[WaitingMessage], now: datetime) -> str | None:
        """The shared poison rule (``judge_poison``) applied to this hub: the reason to fail the
        instance, else ``None`` (storage outages are never poison)."""
        error = record.last_error
        if isinstance(error, TransientStorageError):
            return None
        last = f"{type(error).__name__}: {error}" if error is not None else None
        threshold = self.settings.poison_message_dequeue_count
        counts = [m.dequeue_count for m in kept]
        verdict = judge_poison(record.instance_id, counts, threshold, last, kept_in=KEPT_IN)
        if verdict is None:
            return None
        if verdict.action is PoisonAction.MOVE_POISON:
            poison = [m for m in kept if verdict.is_poison(m.dequeue_count)]
            self._quarantine(poison, verdict.reason, record.instance_id, now)
            kept[:] = [m for m in kept if not verdict.is_poison(m.dequeue_count)]
            return None
        if verdict.action is PoisonAction.FAIL_AND_MOVE_ALL:
            failed = OrchestrationStatus.Failed
            record.state = finished_state(record.state, record.instance_id, failed, verdict.reason, now)
            self._quarantine(kept, verdict.reason, record.instance_id, now)
            kept.clear()
            return None
        return verdict.reason

    def _quarantine(
        self, messages: list[WaitingMessage], reason: str, instance_id: str, now: datetime
    ) -> None:
        self.hub.poison.quarantine(messages, reason, instance_id, CONTROL_QUEUE, now)

    async def complete_orchestration_work_item(
        self, item: OrchestrationWorkItem, result: EpisodeResult
    ) -> None:
        lease: OrchestrationLease = item.session
        record = self.hub.records.get(item.instance_id)
        if record is not lease.record or record.version != lease.version:
            raise ConcurrencyConflictError(
                f"Instance '{item.instance_id}' was purged or rewound while an episode of it ran; the "
                "episode is discarded and its messages are judged again."
            )
        now = self._clock.now()
        state = result.runtime_state
        record.history = [e.copy() for e in state.events]
        record.state = episode_state(
            record.state, state, result.custom_status, keep_custom_status=result.keep_custom_status, now=now
        )
        record.last_error = None
        if item.poison_reason is not None:
            threshold = self.settings.poison_message_dequeue_count
            over = [m for m in lease.messages if m.dequeue_count > threshold]
            self._quarantine(over, item.poison_reason, item.instance_id, now)
        for message in result.activity_messages:
            self.hub.enqueue_activity(message)
        for message in result.orchestrator_messages:
            self.hub.enqueue(message)
        self.hub.unlock(lease)
        self.hub.changed()

    async def abandon_orchestration_work_item(
        self, item: OrchestrationWorkItem, error: BaseException | None = None
    ) -> None:
        lease: OrchestrationLease = item.session
        if error is not None:
            self.hub.record(item.instance_id).last_error = error
        self.hub.put_back(lease)
        self.hub.changed()

    async def release_orchestration_work_item(self, item: OrchestrationWorkItem) -> None:
        self.hub.put_back(item.session)
        self.hub.changed()

    # ---- activity work items ------------------------------------------------------------------
    async def lock_next_activity_work_item(self) -> ActivityWorkItem | None:
        self.hub.bind()
        while self._receiving:
            waiting = self.hub.activities.take()
            if waiting is not None:
                item = ActivityWorkItem(str(waiting.sequence), waiting.message, waiting)
                if waiting.dequeue_count > self.settings.poison_message_dequeue_count:
                    item.poison_reason = poison_reason(
                        waiting.dequeue_count, "the activity never completed", kept_in=KEPT_IN
                    )
                return item
            await self.hub.wait_for_change()
        return None

    async def complete_activity_work_item(self, item: ActivityWorkItem, response: TaskMessage) -> None:
        waiting: WaitingMessage = item.session
        self.hub.activities.done(waiting)
        if item.poison_reason is not None:
            instance_id = waiting.message.instance_id
            self.hub.poison.quarantine(
                [waiting], item.poison_reason, instance_id, WORK_ITEM_QUEUE, self._clock.now()
            )
        self.hub.enqueue(response)
        self.hub.changed()

    async def abandon_activity_work_item(self, item: ActivityWorkItem) -> None:
        self.hub.activities.put_back(item.session)
        self.hub.changed()

    # ---- client operations --------------------------------------------------------------------
    async def create_instance(self, started: TaskMessage) -> None:
        """Write the ``Pending`` status and queue the start (refused while the instance is not finished)."""
        self.hub.bind()
        instance_id = started.instance_id
        record = self.hub.record(instance_id)
        if record.state is not None:
            if not record.state.status.is_terminal:
                raise InstanceAlreadyExistsError(instance_id, record.state.status.name)
            started.event.props["Generation"] = record.state.generation + 1
        record.state = pending_state(started.event, instance_id, self._clock.now())
        self._used = True
        self.hub.enqueue(started)
        self.hub.changed()

    async def send_message(self, message: TaskMessage) -> None:
        self.hub.bind()
        self._used = True
        self.hub.enqueue(message)
        self.hub.changed()

    async def get_state(self, instance_id: str) -> OrchestrationState | None:
        record = self.hub.records.get(instance_id)
        return None if record is None or record.state is None else replace(record.state)

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        record = self.hub.records.get(instance_id)
        return [] if record is None else [e.copy() for e in record.history]

    async def terminate_pending(self, instance_id: str, execution_id: str | None, reason: str | None) -> bool:
        record = self.hub.records.get(instance_id)
        state = None if record is None else record.state
        if record is None or state is None or state.status != OrchestrationStatus.Pending:
            return False
        if execution_id is not None and state.execution_id != execution_id:
            return False
        now = self._clock.now()
        record.state = finished_state(state, instance_id, OrchestrationStatus.Terminated, reason, now)
        return True

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """Rewrite the failures in history, then wake every failed leaf with a ``GenericEvent``."""
        for leaf in await rewind_instances(instance_id, _Rewind(self)):
            await self.send_message(TaskMessage(event(EventType.GenericEvent, -1, Data=reason), leaf, None))

    async def purge_instance(self, instance_id: str) -> int:
        """Forget the instance's status and history (messages still waiting are dropped when judged)."""
        record = self.hub.records.get(instance_id)
        if record is None or record.state is None:
            return 0
        record.state, record.history = None, []
        record.version += 1
        self.hub.tidy(record)
        return 1

    async def purge_instances(self, query: InstanceQuery) -> int:
        statuses = purgeable_statuses(query.statuses)
        if not statuses:
            return 0
        states = [r.state for r in self.hub.records.values() if r.state is not None]
        doomed = matching(states, replace(query, statuses=statuses, continuation_token=None))
        return sum([await self.purge_instance(state.instance_id) for state in doomed])

    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        return instance_page(self._states(), query)

    async def count_instances(self, query: InstanceQuery) -> dict[OrchestrationStatus, int]:
        return count_by_status(self._states(), query)

    async def created_times(self, query: InstanceQuery) -> list[datetime]:
        return [s.created_time for s in matching(self._states(), query) if s.created_time is not None]

    async def query_entities(self, query: EntityQuery) -> EntityPage:
        return entity_page(self._states(), query)

    async def poison_messages(self, instance_id: str | None = None) -> list[PoisonMessage]:
        return [replace(m) for m in self.hub.poison.of(instance_id)]

    def _states(self) -> list[OrchestrationState]:
        return [r.state for r in self.hub.records.values() if r.state is not None]


class _Rewind:
    """The rewind's view of the hub (:class:`durable_ext.core.rewind.RewindStore`)."""

    def __init__(self, service: MemoryOrchestrationService) -> None:
        self.service = service

    async def current_execution(self, instance_id: str) -> list[HistoryEvent]:
        return await self.service.get_history(instance_id)

    async def rewrite(self, instance_id: str, plan: RewindPlan) -> None:
        record = self.service.hub.records.get(instance_id)
        if record is not None:
            record.history = apply_rewind(record.history, plan)
            record.version += 1  # an episode running on the old history must not commit over it

    async def mark_pending(self, instance_id: str) -> None:
        record = self.service.hub.records.get(instance_id)
        if record is not None and record.state is not None:
            record.state = pending_again(record.state, self.service.clock.now())
