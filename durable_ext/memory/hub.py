"""The in-memory task hub: instances, their inboxes, the activity queue, and the engine's wake-ups.

Everything happens on one event loop, so every change is atomic. After each change :meth:`changed`
wakes whoever waits for work (no polling) and lets time skipping look again. Delayed messages wake
the engine at their due time: a loop timer on the remaining wall seconds, set again whenever the
virtual clock is moved (from any thread).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import datetime

from ..core.clock import VirtualClock
from ..core.messages import TaskMessage
from .activity_queue import ActivityQueue
from .due_times import DueTimes
from .jobs import MemoryJobStore
from .poison import PoisonList
from .records import InstanceRecord, OrchestrationLease, WaitingMessage
from .settings import MemorySettings
from .time_skipping import TimeSkipper

_SHOWN = 5
"""How many instances a description of the work names."""


class MemoryTaskHub:
    def __init__(self, settings: MemorySettings, clock: VirtualClock) -> None:
        self.settings = settings
        self.clock = clock
        self.records: dict[str, InstanceRecord] = {}
        self.inboxed: dict[str, None] = {}
        """Ids of the instances with messages in their inbox, in the order they got them."""
        self.activities = ActivityQueue()
        self.poison = PoisonList()
        self.jobs = MemoryJobStore()
        self.leases: dict[str, OrchestrationLease] = {}
        """The orchestration work items handed out, by instance id."""
        self.due = DueTimes()
        self.skipper = TimeSkipper(clock, self, settings.settle_s)
        self.epoch = 0
        self._sequence = itertools.count(1)
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._alarm: asyncio.TimerHandle | None = None
        self._unwatch: Callable[[], None] | None = clock.on_moved(self._clock_moved)

    # ---- the loop ---------------------------------------------------------------------------
    def bind(self) -> None:
        """Remember the running loop (where the wake-ups run); called by every async operation."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._changed = asyncio.Event()
            self._arm()

    def on_loop(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the hub's loop: now when called there, else as soon as the loop can."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            callback()
        else:
            loop.call_soon_threadsafe(callback)

    def changed(self) -> None:
        self.epoch += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        self.skipper.consider()

    async def wait_for_change(self, timeout_s: float | None = None) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            return

    # ---- messages -----------------------------------------------------------------------------
    def record(self, instance_id: str) -> InstanceRecord:
        record = self.records.get(instance_id)
        if record is None:
            record = self.records[instance_id] = InstanceRecord(instance_id)
        return record

    def tidy(self, record: InstanceRecord) -> None:
        """Keep the inbox index right after the record's inbox changed; forget a record left empty."""
        if record.inbox:
            self.inboxed.setdefault(record.instance_id, None)
        else:
            self.inboxed.pop(record.instance_id, None)
        if record.empty and self.records.get(record.instance_id) is record:
            del self.records[record.instance_id]

    def new_waiting(self, message: TaskMessage) -> WaitingMessage:
        return WaitingMessage(next(self._sequence), message)

    def enqueue(self, message: TaskMessage) -> None:
        """Put a message in its instance's inbox (the instance's record is made if it had none)."""
        record = self.record(message.instance_id)
        waiting = self.new_waiting(message)
        record.inbox.append(waiting)
        self.tidy(record)
        if message.visible_at is not None and message.visible_at > self.clock.now():
            self.due.add(waiting)
            self._arm()

    def enqueue_activity(self, message: TaskMessage) -> None:
        self.activities.put(self.new_waiting(message))

    def unlock(self, lease: OrchestrationLease) -> None:
        if self.leases.get(lease.record.instance_id) is lease:
            del self.leases[lease.record.instance_id]
        lease.record.locked = False
        self.tidy(lease.record)

    def put_back(self, lease: OrchestrationLease) -> None:
        """Unlock the instance and return a work item's messages to it (to be judged again: those for
        an instance purged meanwhile are dropped then)."""
        self.unlock(lease)
        current = self.record(lease.record.instance_id)
        current.put_back(lease.messages)
        self.tidy(current)

    def clear(self) -> None:
        for record in self.records.values():
            for waiting in record.inbox:
                waiting.gone = True
        self.records.clear()
        self.inboxed.clear()
        self.activities.clear()
        self.poison.messages.clear()
        self.due.clear()
        self._arm()

    # ---- idleness -----------------------------------------------------------------------------
    def runnable_instances(self) -> list[str]:
        now = self.clock.now()
        return [i for i in self.inboxed if self.records[i].has_work(now)]

    def is_idle(self) -> bool:
        """No runnable work: no visible message for any instance, no activity queued or running, and
        no orchestration work item handed out and not yet finished."""
        if self.leases or self.activities.busy:
            return False
        now = self.clock.now()
        return not any(self.records[i].has_work(now) for i in self.inboxed)

    def next_due(self) -> datetime | None:
        return self.due.next_due()

    def describe_work(self) -> str:
        """What keeps the hub from being idle, in words."""
        parts = []
        if self.leases:
            parts.append(f"episodes running for {_names(list(self.leases))}")
        running = [m.message for m in self.activities.running.values()]
        if running:
            shown = ", ".join(f"'{m.event.name}' for '{m.instance_id}'" for m in running[:_SHOWN])
            parts.append(f"{len(running)} activities running ({shown})")
        if self.activities.queued:
            parts.append(f"{len(self.activities.queued)} activities queued")
        runnable = self.runnable_instances()
        if runnable:
            parts.append(f"messages waiting for {_names(runnable)}")
        return "; ".join(parts) or "nothing"

    # ---- wake-ups -----------------------------------------------------------------------------
    def deliver_due(self) -> None:
        """Messages due by now are visible: wake the engine, and wait for the next due time."""
        self.due.pop_due(self.clock.now())
        self._arm()
        self.changed()

    def _clock_moved(self) -> None:
        self.on_loop(self.deliver_due)

    def _arm(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        loop = self._loop
        due = self.due.next_due()
        if loop is None or loop.is_closed() or due is None:
            return
        self._alarm = loop.call_later(self.clock.seconds_until(due), self.deliver_due)

    def close(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        self.skipper.cancel()

    def open(self) -> None:
        """Watch the clock and wait for the next due time again (after :meth:`close`)."""
        if self._unwatch is None:
            self._unwatch = self.clock.on_moved(self._clock_moved)
        self._arm()


def _names(instance_ids: list[str]) -> str:
    shown = ", ".join(f"'{i}'" for i in instance_ids[:_SHOWN])
    more = len(instance_ids) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
