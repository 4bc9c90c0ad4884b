"""The ``timerTrigger`` binding provider: schedule, options and the shared lock of each timer function."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import FunctionInfo, FunctionInvoker
from ..singleton import BlobLock, SingletonOptions
from ..storage.accounts import DEFAULT_CONNECTION, StorageAccounts
from .listener import TimerListener, TimerSettings
from .monitor import ScheduleMonitor
from .schedule import TIME_ZONE_SETTING, parse_schedule, time_zone

if TYPE_CHECKING:
    from ..catalog import Settings


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


class TimerTriggerBinding:
    def __init__(
        self, function: FunctionInfo, settings: Settings, accounts: StorageAccounts, host_id: str
    ) -> None:
        self.function = function
        trigger = function.trigger
        text = settings.resolve(
            str(trigger.get("schedule") or ""), f"the schedule of function '{function.name}'"
        )
        schedule = parse_schedule(text, time_zone(settings.get(TIME_ZONE_SETTING)), function.name)
        options = SingletonOptions.from_settings(settings)
        self._settings = TimerSettings(
            schedule=schedule,
            schedule_text=text,
            run_on_startup=_flag(trigger.get("runOnStartup"), False),
            use_monitor=_flag(trigger.get("useMonitor"), True) and not schedule.sub_minute,
            recovery_poll_s=options.listener_lock_recovery_polling_interval_s,
        )
        self._period_s = options.listener_lock_period_s
        accounts.check(DEFAULT_CONNECTION, function.name)
        self._accounts = accounts
        self._host_id = host_id

    def create_listener(self, invoker: FunctionInvoker) -> TimerListener:
        blobs = self._accounts.clients(DEFAULT_CONNECTION, self.function.name).blobs
        lock_id = f"Host.Functions.{self.function.name}.Listener"
        lock = BlobLock(blobs, self._host_id, lock_id, self._period_s)
        monitor = (
            ScheduleMonitor(blobs, self._host_id, self.function.name) if self._settings.use_monitor else None
        )
        return TimerListener(invoker, self._settings, lock, monitor)


class TimerTriggerBindingProvider:
    binding_type = "timerTrigger"

    def __init__(self, settings: Settings, accounts: StorageAccounts, host_id: str) -> None:
        self._settings = settings
        self._accounts = accounts
        self._host_id = host_id

    def create_trigger(self, function: FunctionInfo) -> TimerTriggerBinding:
        return TimerTriggerBinding(function, self._settings, self._accounts, self._host_id)
