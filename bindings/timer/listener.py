"""Runs one timer function on its schedule (inside the singleton listener, so on one worker at a time).

On start: with the schedule status kept (``useMonitor``), an occurrence that passed while no worker ran
the schedule runs once at once with ``past_due=True``; else ``runOnStartup`` runs the function at once.
Then each occurrence runs when it comes. Runs never overlap: one that lasts past the next occurrence
makes that one run as soon as it ends (once, however many passed). A failing run is logged and the
schedule goes on (no retry, as on Azure). A run starts only while the lock is surely still held, so two
workers never run the same occurrence. Stopping lets a run in progress finish first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from durable_ext.core.clock import current_clock, utc_now

from ..base import FunctionInvoker, InvocationContext
from ..conversion import Datum, annotation_of, decode_argument
from .monitor import ScheduleMonitor, ScheduleStatus, after_run, check_past_due
from .schedule import Schedule

log = logging.getLogger("durable_ext.bindings.timer")

STOP_GRACE_S = 30.0
"""How long stopping waits for a run in progress before giving up on it."""


@dataclass(frozen=True)
class TimerSettings:
    schedule: Schedule
    schedule_text: str
    run_on_startup: bool
    use_monitor: bool


class TimerListener:
    def __init__(
        self,
        invoker: FunctionInvoker,
        settings: TimerSettings,
        monitor: ScheduleMonitor | None,
        still_held: Callable[[], bool] = lambda: True,
    ) -> None:
        self._invoker = invoker
        self._settings = settings
        self._monitor = monitor
        self._still_held = still_held
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        function = invoker.function
        self._name = function.name
        self._annotation = annotation_of(function, str(function.trigger.get("name")))

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"timer {self._name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_S)
        if not done:
            log.warning(
                "Function '%s': a timer run did not end within %g s of stopping", self._name, STOP_GRACE_S
            )
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        try:
            status, past_due = await self._starting_status()
            if past_due or self._settings.run_on_startup:
                status = await self._fire(status, past_due=past_due, due=None)
            while await self._wait_until(status.next):
                status = await self._fire(status, past_due=False, due=status.next)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: say so rather than let the schedule end without a word
            log.exception("Function '%s': the timer stopped", self._name)

    async def _starting_status(self) -> tuple[ScheduleStatus, bool]:
        schedule, now = self._settings.schedule, utc_now()
        if self._monitor is None:
            return ScheduleStatus(None, schedule.next_after(now), now), False
        try:
            stored = await self._monitor.read(now)
        except Exception as exc:
            log.warning(
                "Function '%s': could not read the schedule status (%s); a run missed while the app was "
                "down is not made up for",
                self._name,
                exc,
            )
            return ScheduleStatus(None, schedule.next_after(now), now), False
        status, past_due, changed = check_past_due(schedule, stored, now)
        if changed:
            await self._monitor.write(status)
        if past_due:
            log.info("Function '%s' is past due (it was due at %s); running it now", self._name, status.next)
        return status, past_due

    async def _wait_until(self, due: datetime) -> bool:
        """True once ``due`` has come on the durable clock (never early); False if the listener is
        stopping. A virtual clock moved past ``due`` (memory provider, tests) wakes it at once."""
        came = asyncio.ensure_future(current_clock().sleep_until(due))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({came, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (came, stopping):
                waiter.cancel()
            await asyncio.gather(came, stopping, return_exceptions=True)
        return not self._stopping.is_set()

    async def _fire(self, before: ScheduleStatus, *, past_due: bool, due: datetime | None) -> ScheduleStatus:
        """Run the function (unless the lock may have lapsed) and return the status after the run."""
        fired = utc_now()
        if due is not None and fired < due:
            fired = due
        if not self._still_held():
            log.warning(
                "Function '%s': not run at %s, as this worker may no longer hold the timer's lock",
                self._name,
                fired.isoformat(),
            )
            return after_run(self._settings.schedule, fired)
        await self._invoke(before, past_due)
        status = after_run(self._settings.schedule, fired)
        if self._monitor is not None:
            await self._monitor.write(status)
        return status

    def payload(self, before: ScheduleStatus, past_due: bool) -> dict[str, Any]:
        """The JSON the Functions host sends for a timer run (``TimerInfo``)."""
        schedule = self._settings.schedule
        return {
            "Schedule": {"AdjustForDST": schedule.adjust_for_dst},
            "ScheduleStatus": before.to_json(schedule.zone) if self._monitor is not None else None,
            "IsPastDue": past_due,
        }

    async def _invoke(self, before: ScheduleStatus, past_due: bool) -> None:
        invocation = InvocationContext(
            str(uuid.uuid4()),
            self._name,
            binding_data={
                "TimerTrigger": utc_now()
                .astimezone(self._settings.schedule.zone)
                .strftime("%m/%d/%Y %H:%M:%S")
            },
        )
        try:
            datum = Datum(json.dumps(self.payload(before, past_due)), "json")
            argument = decode_argument("timerTrigger", self._annotation, datum)
            await self._invoker.invoke(argument, invocation)
        except Exception:
            log.exception(
                "Function '%s' failed (timer, invocation %s); the schedule goes on",
                self._name,
                invocation.invocation_id,
            )
