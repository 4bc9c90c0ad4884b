"""The timer trigger without storage: indexing checks, past-due rules, the status JSON, the run loop."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import azure.functions as func
import pytest

from bindings.base import FunctionInfo, InvocationContext
from bindings.singleton import SingletonOptions
from bindings.timer.listener import TimerListener
from bindings.timer.monitor import NEVER, ScheduleStatus, check_past_due, parse_time
from bindings.timer.provider import timer_settings
from bindings.timer.schedule import parse_schedule
from durable_ext.errors import ConfigurationError
from durable_ext.host.settings import AppSettings


def settings(values: dict[str, str] | None = None, host_json: dict[str, Any] | None = None) -> AppSettings:
    return AppSettings(Path("."), dict(values or {}), host_json or {"version": "2.0"}, environ={})


def timer_function(timer: func.TimerRequest) -> None:
    return None


def timer(name: str = "nightly", **trigger: Any) -> FunctionInfo:
    binding = {"direction": "IN", "type": "timerTrigger", "name": "timer", **trigger}
    return FunctionInfo(name, "timerTrigger", binding, (binding,), timer_function)


def test_a_bad_schedule_is_refused_naming_the_function_the_schedule_and_an_example() -> None:
    with pytest.raises(ConfigurationError) as caught:
        timer_settings(timer(schedule="0 0 25 * * *"), settings())
    message = str(caught.value)
    assert "Function 'nightly'" in message and "'0 0 25 * * *'" in message and "hour field '25'" in message
    assert "'0 */5 * * * *'" in message
    with pytest.raises(ConfigurationError, match="Function 'nightly': the timer trigger has no schedule"):
        timer_settings(timer(), settings())


def test_the_schedule_may_come_from_an_app_setting() -> None:
    found = timer_settings(timer(schedule="%NIGHTLY%"), settings({"NIGHTLY": "0 0 2 * * *"}))
    assert found.schedule_text == "0 0 2 * * *" and found.use_monitor and not found.run_on_startup
    with pytest.raises(ConfigurationError, match="NIGHTLY"):
        timer_settings(timer(schedule="%NIGHTLY%"), settings())


def test_options_and_their_defaults() -> None:
    every_two = timer_settings(timer(schedule="*/2 * * * * *", useMonitor=True), settings())
    assert not every_two.use_monitor  # forced off: more than once a minute
    v1 = timer_settings(timer(schedule="0 0 * * * *", runOnStartup="true", useMonitor="False"), settings())
    assert v1.run_on_startup and not v1.use_monitor
    with pytest.raises(ConfigurationError, match="runOnStartup is 'yes'; it must be true or false"):
        timer_settings(timer(schedule="0 0 * * * *", runOnStartup="yes"), settings())
    zoned = timer_settings(
        timer(schedule="0 0 9 * * *"), settings({"WEBSITE_TIME_ZONE": "GMT Standard Time"})
    )
    assert zoned.schedule.zone == ZoneInfo("Europe/London")


def test_singleton_options() -> None:
    assert SingletonOptions.from_settings(settings()) == SingletonOptions(60.0, 60.0)
    short = {
        "singleton": {"ListenerLockPeriod": "00:00:15", "listenerLockRecoveryPollingInterval": "00:00:01"}
    }
    assert SingletonOptions.from_settings(settings(host_json=short)) == SingletonOptions(15.0, 1.0)
    with pytest.raises(ConfigurationError, match="listenerLockPeriod is 10 s; a blob lease lasts 15 to 60"):
        SingletonOptions.from_settings(settings(host_json={"singleton": {"listenerLockPeriod": "00:00:10"}}))
    with pytest.raises(ConfigurationError, match="listenerLockRecoveryPollingInterval is 'soon'"):
        SingletonOptions.from_settings(
            settings(host_json={"singleton": {"listenerLockRecoveryPollingInterval": "soon"}})
        )


HOURLY = parse_schedule("0 0 * * * *", UTC, "f")
NOW = datetime(2026, 5, 1, 10, 20, tzinfo=UTC)


def test_no_status_yet_starts_from_now() -> None:
    status, past_due, changed = check_past_due(HOURLY, None, NOW)
    assert status == ScheduleStatus(None, datetime(2026, 5, 1, 11, tzinfo=UTC), NOW) and changed
    assert not past_due


def test_a_passed_next_occurrence_is_past_due_once() -> None:
    last = datetime(2026, 5, 1, 6, tzinfo=UTC)
    stored = ScheduleStatus(last, last + timedelta(hours=1), last)  # down since 06:00: four missed
    assert check_past_due(HOURLY, stored, NOW) == (stored, True, False)
    on_time = ScheduleStatus(NOW.replace(minute=0), datetime(2026, 5, 1, 11, tzinfo=UTC), NOW)
    assert check_past_due(HOURLY, on_time, NOW) == (on_time, False, False)


def test_a_status_of_another_schedule_starts_afresh() -> None:
    last = datetime(2026, 5, 1, 6, tzinfo=UTC)
    stored = ScheduleStatus(last, last + timedelta(minutes=30), last)  # written for every half hour
    status, past_due, changed = check_past_due(HOURLY, stored, NOW)
    assert status == ScheduleStatus(None, datetime(2026, 5, 1, 11, tzinfo=UTC), NOW)
    assert changed and not past_due


def test_the_status_json_is_what_the_functions_host_writes() -> None:
    london = ZoneInfo("Europe/London")
    status = ScheduleStatus(
        None, datetime(2026, 7, 1, 9, tzinfo=UTC), datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
    )
    assert status.to_json(london) == {
        "Last": NEVER,
        "Next": "2026-07-01T10:00:00+01:00",
        "LastUpdated": "2026-07-01T09:30:00+01:00",
    }
    assert ScheduleStatus.from_json(status.to_json(london), london, NOW) == status
    assert parse_time("2022-03-28T15:40:00.0105419-05:00", UTC) == datetime(
        2022, 3, 28, 20, 40, 0, 10541, tzinfo=UTC
    )
    assert parse_time("0001-01-01T00:00:00", UTC) is None


class RecordingInvoker:
    """A function invoker that records each call and how many ran at once."""

    def __init__(self, function: FunctionInfo, seconds: float, fail: bool = False) -> None:
        self.function = function
        self.seconds = seconds
        self.fail = fail
        self.calls: list[tuple[float, func.TimerRequest]] = []
        self.running = 0
        self.most_at_once = 0

    async def invoke(self, trigger_value: Any, invocation: InvocationContext) -> Any:
        self.calls.append((time.time(), trigger_value))
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.seconds)
            if self.fail:
                raise RuntimeError("the function failed")
        finally:
            self.running -= 1


async def run_for(invoker: RecordingInvoker, seconds: float, **options: Any) -> None:
    found = timer_settings(timer(**options), settings())
    listener = TimerListener(invoker, found, monitor=None)
    await listener.start()
    await asyncio.sleep(seconds)
    await listener.stop()


async def test_runs_never_overlap_and_a_failing_run_does_not_stop_the_schedule() -> None:
    slow = RecordingInvoker(timer(), seconds=1.2, fail=True)
    await run_for(slow, 3.5, schedule="* * * * * *")
    assert slow.most_at_once == 1
    assert len(slow.calls) >= 2  # every second, but each run lasts 1.2 s: the next starts when it ends
    assert all(isinstance(request, func.TimerRequest) for _, request in slow.calls)
    assert slow.running == 0  # stopping let the run in progress finish


async def test_run_on_startup_and_the_request_the_function_gets() -> None:
    quick = RecordingInvoker(timer(), seconds=0)
    found = timer_settings(timer(schedule="0 0 0 1 1 *", runOnStartup=True), settings())
    listener = TimerListener(quick, found, monitor=None)
    started = time.time()
    await listener.start()
    deadline = time.monotonic() + 5
    while not quick.calls and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # no second run follows
    await listener.stop()
    assert len(quick.calls) == 1 and quick.calls[0][0] - started < 5  # at once, not on January 1st
    request = quick.calls[0][1]
    assert not request.past_due and request.schedule == {"AdjustForDST": True}
    assert request.schedule_status == {}  # no monitor: null, which TimerRequest gives as {}
