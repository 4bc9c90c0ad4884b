"""The ``timerTrigger`` binding provider: the schedule, the options and the shared lock of each timer.

Everything a user can get wrong (the schedule, ``%Setting%`` references in it, ``WEBSITE_TIME_ZONE``,
host.json ``singleton``, the storage connection) is checked when the app is indexed, so a bad timer is
skipped with one message and the others run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from durable_ext.errors import ConfigurationError

from ..base import FunctionInfo, FunctionInvoker
from ..singleton import BlobLock, SingletonListener, SingletonOptions
from ..storage.accounts import DEFAULT_CONNECTION, StorageAccounts
from .listener import TimerListener, TimerSettings
from .monitor import ScheduleMonitor
from .schedule import EXAMPLE, TIME_ZONE_SETTING, parse_schedule, time_zone

if TYPE_CHECKING:
    from ..catalog import Settings

log = logging.getLogger("durable_ext.bindings.timer")


def _flag(function: FunctionInfo, key: str, default: bool) -> bool:
    """A boolean trigger property: JSON true/false, or "true"/"false" as function.json may have it."""
    value = function.trigger.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ConfigurationError(
        f"Function '{function.name}': the timer's {key} is {value!r}; it must be true or false."
    )


def timer_settings(function: FunctionInfo, settings: Settings) -> TimerSettings:
    """The schedule and options of a timer function; ConfigurationError if any is not valid."""
    raw = function.trigger.get("schedule")
    if not raw or not isinstance(raw, str):
        raise ConfigurationError(f"Function '{function.name}': the timer trigger has no schedule. {EXAMPLE}")
    text = settings.resolve(raw, f"the schedule of function '{function.name}'")
    schedule = parse_schedule(text, time_zone(settings.get(TIME_ZONE_SETTING)), function.name)
    use_monitor = _flag(function, "useMonitor", True)
    if use_monitor and schedule.sub_minute:
        log.debug(
            "Function '%s': '%s' fires more than once a minute; no schedule status", function.name, text
        )
    return TimerSettings(
        schedule=schedule,
        schedule_text=text,
        run_on_startup=_flag(function, "runOnStartup", False),
        use_monitor=use_monitor and not schedule.sub_minute,
    )


class TimerTriggerBinding:
    def __init__(
        self,
        function: FunctionInfo,
        settings: Settings,
        accounts: StorageAccounts,
        host_id: str,
        *,
        in_process: bool = False,
    ) -> None:
        self.function = function
        self.settings = timer_settings(function, settings)
        self._options = SingletonOptions.from_settings(settings)
        self._in_process = in_process
        if not in_process:
            accounts.check(DEFAULT_CONNECTION, function.name)
        self._accounts = accounts
        self._host_id = host_id

    def create_listener(self, invoker: FunctionInvoker) -> TimerListener | SingletonListener:
        name = self.function.name
        if self._in_process:  # one process, nothing durable: no lock to share and no status to keep
            return TimerListener(invoker, self.settings, None)
        blobs = self._accounts.clients(DEFAULT_CONNECTION, name).blobs
        lock = BlobLock(
            blobs, self._host_id, f"Host.Functions.{name}.Listener", self._options.listener_lock_period_s
        )
        monitor = (
            ScheduleMonitor(blobs, self._host_id, name, self.settings.schedule.zone)
            if self.settings.use_monitor
            else None
        )
        timer = TimerListener(invoker, self.settings, monitor, still_held=lock.surely_held)
        return SingletonListener(
            timer, lock, self._options, f"Timer '{name}' ({self.settings.schedule_text})"
        )


class TimerTriggerBindingProvider:
    """``in_process``: the task hub is in memory (one process, nothing durable), so timers run without
    the storage lock and schedule status that share a schedule between workers and across restarts."""

    binding_type = "timerTrigger"

    def __init__(
        self, settings: Settings, accounts: StorageAccounts, host_id: str, *, in_process: bool = False
    ) -> None:
        self._settings = settings
        self._accounts = accounts
        self._host_id = host_id
        self._in_process = in_process

    def create_trigger(self, function: FunctionInfo) -> TimerTriggerBinding:
        return TimerTriggerBinding(
            function, self._settings, self._accounts, self._host_id, in_process=self._in_process
        )
