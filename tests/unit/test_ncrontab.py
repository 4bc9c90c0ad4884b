"""Timer schedules: NCRONTAB expressions (seconds first), intervals, time zones and errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bindings.timer.ncrontab import CronExpression
from bindings.timer.schedule import CronSchedule, IntervalSchedule, parse_interval, parse_schedule, time_zone
from durable_ext.errors import ConfigurationError


def nexts(expression: str, start: datetime, count: int) -> list[datetime]:
    cron = CronExpression.parse(expression)
    found, moment = [], start
    for _ in range(count):
        moment = cron.next_after(moment)
        found.append(moment)
    return found


START = datetime(2026, 1, 30, 23, 59, 58)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("* * * * * *", [datetime(2026, 1, 30, 23, 59, 59), datetime(2026, 1, 31)]),
        ("*/15 * * * * *", [datetime(2026, 1, 31, 0, 0, 0), datetime(2026, 1, 31, 0, 0, 15)]),
        ("0 */5 * * * *", [datetime(2026, 1, 31, 0, 0), datetime(2026, 1, 31, 0, 5)]),
        ("0 30 9 * * 1-5", [datetime(2026, 2, 2, 9, 30), datetime(2026, 2, 3, 9, 30)]),  # Mon, Tue
        ("0 0 12 * * Sat,sun", [datetime(2026, 1, 31, 12), datetime(2026, 2, 1, 12)]),
        ("0 0 0 29 Feb *", [datetime(2028, 2, 29), datetime(2032, 2, 29)]),
        ("0 0 0 31 * *", [datetime(2026, 1, 31), datetime(2026, 3, 31)]),
        ("0 0 0 13 * 5", [datetime(2026, 2, 13), datetime(2026, 3, 13)]),  # Friday the 13th: both fields
        ("5 4 * * *", [datetime(2026, 1, 31, 4, 5), datetime(2026, 2, 1, 4, 5)]),  # five fields: second 0
        ("10-20/5 0 0 * * *", [datetime(2026, 1, 31, 0, 0, 10), datetime(2026, 1, 31, 0, 0, 15)]),
        ("30/10 0 0 1 jan-mar *", [datetime(2026, 2, 1, 0, 0, 30), datetime(2026, 2, 1, 0, 0, 40)]),
    ],
)
def test_next_occurrences(expression: str, expected: list[datetime]) -> None:
    assert nexts(expression, START, len(expected)) == expected


def test_the_next_occurrence_is_strictly_after_and_whole_seconds() -> None:
    cron = CronExpression.parse("0 0 * * * *")
    assert cron.next_after(datetime(2026, 1, 1, 10, 0, 0)) == datetime(2026, 1, 1, 11)
    assert cron.next_after(datetime(2026, 1, 1, 9, 59, 59, 999999)) == datetime(2026, 1, 1, 10)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "has 4 fields"),
        ("61 * * * * *", "second field '61' is invalid"),
        ("0 0 0 * * 7", "day of week field '7' is invalid"),
        ("0 0 0 * Foo *", "month field 'Foo' is invalid"),
        ("0 0 5-1 * * *", "runs backwards"),
        ("0 0 0 30 2 *", "never fires"),
    ],
)
def test_invalid_expressions_say_which_field(expression: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        nexts(expression, START, 1)


def test_intervals() -> None:
    assert parse_interval("00:00:30") == timedelta(seconds=30)
    assert parse_interval("1.02:00:00") == timedelta(days=1, hours=2)
    assert parse_interval("24:00:00") == timedelta(days=24)  # a first part of 24 or more is days
    assert parse_interval("0 */5 * * * *") is None
    schedule = parse_schedule("00:05:00", UTC, "f")
    assert isinstance(schedule, IntervalSchedule) and not schedule.adjust_for_dst and not schedule.sub_minute
    assert parse_schedule("00:00:10", UTC, "f").sub_minute


def test_a_bad_schedule_names_the_function_and_shows_an_example() -> None:
    with pytest.raises(ConfigurationError, match=r"Function 'nightly'.*'every day'.*'0 \*/5 \* \* \* \*'"):
        parse_schedule("every day", UTC, "nightly")


def test_cron_in_a_time_zone_with_daylight_saving() -> None:
    schedule = parse_schedule("0 30 2 * * *", time_zone("Europe/London"), "f")
    assert isinstance(schedule, CronSchedule) and schedule.adjust_for_dst
    winter = schedule.next_after(datetime(2026, 1, 10, 12, tzinfo=UTC))
    summer = schedule.next_after(datetime(2026, 7, 10, 12, tzinfo=UTC))
    assert (winter.hour, summer.hour) == (2, 1)  # 02:30 local is 02:30 UTC in winter, 01:30 UTC in summer
    every_half_hour = parse_schedule("0 0,30 * * * *", time_zone("Europe/London"), "f")
    fall_back = datetime(2026, 10, 25, 0, 15, tzinfo=UTC)  # 01:15 BST; at 02:00 BST clocks go back to 01:00
    runs = [fall_back]
    for _ in range(3):
        runs.append(every_half_hour.next_after(runs[-1]))
    # the repeated hour (01:00-02:00 GMT) is not run a second time
    assert [(r.hour, r.minute) for r in runs[1:]] == [(0, 30), (2, 0), (2, 30)]


def test_windows_time_zone_names_and_unknown_names() -> None:
    assert time_zone("Eastern Standard Time") == ZoneInfo("America/New_York")
    assert time_zone(None) is UTC
    with pytest.raises(ConfigurationError, match="WEBSITE_TIME_ZONE is 'Mars/Olympus'"):
        time_zone("Mars/Olympus")


def test_every_second_schedules_keep_no_status() -> None:
    assert parse_schedule("*/2 * * * * *", UTC, "f").sub_minute
    assert not parse_schedule("0 * * * * *", UTC, "f").sub_minute
