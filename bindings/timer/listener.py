"""Runs one timer function on its schedule, while this worker holds the timer's lock.

On taking the lock: with the schedule status kept (``useMonitor``), an occurrence that passed while no
worker ran the schedule runs once at once with ``past_due=True``; else ``runOnStartup`` runs it at once.
Then each occurrence runs when it comes; runs never overlap; a failing run is logged and the schedule
goes on (no retry, as on Azure). The lease is renewed at half its period, and a run starts only while
it is surely still held, so two workers never run the same occurrence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..base import FunctionInvoker, InvocationContext
from ..conversion import Datum, annotation_of, decode_argument
from ..singleton import BlobLock
from .monitor import ScheduleMonitor, ScheduleStatus
from .schedule import Schedule

log = logging.getLogger("durable_ext.bindings.timer")


@dataclass(frozen=True)
class TimerSettings:
    schedule: Schedule
    schedule_text: str
    run_on_startup: bool
    use_monitor: bool
    recovery_poll_s: float


class TimerListener:
    def __init__(
        self,
        invoker: FunctionInvoker,
        settings: TimerSettings,
        lock: BlobLock,
        monitor: ScheduleMonitor | None,
    ) -> None:
        self._invoker = invoker
        self._settings = settings
        self._lock = lock
        self._monitor = monitor
        self._task: asyncio.Task[None] | None = None
        self._renewed_at = 0.0
        function = invoker.function
        self._name = function.name
        self._annotation = annotation_of(function, str(function.trigger.get("name")))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"timer {self._name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._lock.release()

    async def _run(self) -> None:
        while True:
            try:
                if await self._lock.try_acquire():
                    self._renewed_at = time.monotonic()
                    log.info(
                        "Function '%s': this worker runs the schedule '%s'",
                        self._name,
                        self._settings.schedule_text,
                    )
                    await self._while_held()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Function '%s': the timer's lock failed (%s); retrying", self._name, exc)
            await asyncio.sleep(self._settings.recovery_poll_s)

    async def _while_held(self) -> None:
        schedule_task = asyncio.create_task(self._schedule())
        try:
            while not schedule_task.done():
                await asyncio.wait({schedule_task}, timeout=self._lock.period_s / 2)
                if schedule_task.done():
                    break
                if not await self._lock.renew():
                    break
                self._renewed_at = time.monotonic()
        finally:
            schedule_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await schedule_task
            await self._lock.release()
        if schedule_task.done() and not schedule_task.cancelled() and schedule_task.exception():
            raise schedule_task.exception()  # type: ignore[misc]

    def _surely_held(self) -> bool:
        return self._lock.held and time.monotonic() - self._renewed_at < self._lock.period_s * 0.75

    async def _schedule(self) -> None:
        schedule = self._settings.schedule
        status = await self._monitor.read() if self._monitor is not None else None
        now = datetime.now(UTC)
        status, past_due = await self._check_past_due(status, now)
        if past_due or self._settings.run_on_startup:
            status = await self._fire(now, status, past_due=past_due, scheduled=None)
        while True:
            now = datetime.now(UTC)
            due = status.next if status is not None and status.next is not None else schedule.next_after(now)
            await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds(), 0))
            status = await self._fire(datetime.now(UTC), status, past_due=False, scheduled=due)

    async def _check_past_due(
        self, status: ScheduleStatus | None, now: datetime
    ) -> tuple[ScheduleStatus | None, bool]:
        if self._monitor is None:
            return None, False
        schedule = self._settings.schedule
        if status is None:
            status = ScheduleStatus(None, schedule.next_after(now), now)
            await self._monitor.write(status)
            return status, False
        base = status.last or status.last_updated or now
        expected = schedule.next_after(base)
        if status.next != expected:  # the schedule changed since the status was written
            status = ScheduleStatus(None, expected if expected > now else schedule.next_after(now), now)
            await self._monitor.write(status)
        return status, status.next is not None and now > status.next

    async def _fire(
        self, now: datetime, status: ScheduleStatus | None, *, past_due: bool, scheduled: datetime | None
    ) -> ScheduleStatus | None:
        if not self._surely_held():
            raise asyncio.CancelledError  # the lease may have lapsed: leave the occurrence to its holder
        await self._invoke(status, past_due)
        fired = max(now, scheduled) if scheduled is not None else now
        updated = ScheduleStatus(fired, self._settings.schedule.next_after(fired), fired)
        if self._monitor is not None:
            await self._monitor.write(updated)
        return updated

    async def _invoke(self, status: ScheduleStatus | None, past_due: bool) -> None:
        payload: dict[str, Any] = {
            "Schedule": {"AdjustForDST": self._settings.schedule.adjust_for_dst},
            "ScheduleStatus": status.to_json() if status is not None and self._monitor is not None else None,
            "IsPastDue": past_due,
        }
        argument = decode_argument("timerTrigger", self._annotation, Datum(json.dumps(payload), "json"))
        invocation = InvocationContext(
            str(uuid.uuid4()), self._name, binding_data={"TimerTrigger": str(datetime.now())}
        )
        try:
            await self._invoker.invoke(argument, invocation)
        except Exception:
            log.exception(
                "Function '%s' failed (timer, invocation %s); the schedule goes on",
                self._name,
                invocation.invocation_id,
            )
