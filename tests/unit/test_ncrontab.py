"""Timer schedules: NCRONTAB expressions (seconds first), intervals, time zones, daylight saving, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bindings.timer.ncrontab import CronExpression
from bindings.timer.schedule import CronSchedule, IntervalSchedule, parse_interval, parse_schedule, time_zone
from durable_ext.errors import ConfigurationError

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")


def nexts(expression: str, start: datetime, count: int) -> list[datetime]:
    cron = CronExpression.parse(expression)
    found, moment = [], start
    for _ in range(count):
        moment = cron.next_after(moment)
        found.append(moment)
    return found


START = datetime(2026, 1, 30, 23, 59, 58)  # a Friday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("* * * * * *", [datetime(2026, 1, 30, 23, 59, 59), datetime(2026, 1, 31)]),
        ("*/15 * * * * *", [datetime(2026, 1, 31, 0, 0, 0), datetime(2026, 1, 31, 0, 0, 15)]),
        ("0 */5 * * * *", [datetime(2026, 1, 31, 0, 0), datetime(2026, 1, 31, 0, 5)]),
        (
            "0 0 9-17/4 * * *",
            [datetime(2026, 1, 31, 9), datetime(2026, 1, 31, 13), datetime(2026, 1, 31, 17)],
        ),
        ("0 0 17-9/8 * * *", [datetime(2026, 1, 31, 9), datetime(2026, 1, 31, 17)]),  # reversed: 9-17
        ("0 0 0,12 * * *", [datetime(2026, 1, 31, 0), datetime(2026, 1, 31, 12)]),
        ("0 30 9 * * 1-5", [datetime(2026, 2, 2, 9, 30), datetime(2026, 2, 3, 9, 30)]),  # Mon, Tue
        ("0 0 12 * * Sat,sun", [datetime(2026, 1, 31, 12), datetime(2026, 2, 1, 12)]),
        ("0 0 12 * * MONDAY", [datetime(2026, 2, 2, 12)]),
        (
            "0 0 12 * * tues-th",
            [datetime(2026, 2, 3, 12), datetime(2026, 2, 4, 12), datetime(2026, 2, 5, 12)],
        ),
        ("0 0 0 1 Mar-May *", [datetime(2026, 3, 1), datetime(2026, 4, 1), datetime(2026, 5, 1)]),
        ("0 0 0 29 Feb *", [datetime(2028, 2, 29), datetime(2032, 2, 29)]),  # leap years only
        ("0 0 0 29 2 1", [datetime(2044, 2, 29)]),  # a Monday 29 February: 28 years apart
        ("0 0 0 31 * *", [datetime(2026, 1, 31), datetime(2026, 3, 31), datetime(2026, 5, 31)]),
        ("0 0 0 13 * 5", [datetime(2026, 2, 13), datetime(2026, 3, 13)]),  # Friday the 13th: both fields
        ("0 0 0 28-31 2 *", [datetime(2026, 2, 28), datetime(2027, 2, 28), datetime(2028, 2, 28)]),
        ("5 4 * * *", [datetime(2026, 1, 31, 4, 5), datetime(2026, 2, 1, 4, 5)]),  # five fields: second 0
        ("10-20/5 0 0 * * *", [datetime(2026, 1, 31, 0, 0, 10), datetime(2026, 1, 31, 0, 0, 15)]),
        ("50/5 59 23 * * *", [datetime(2026, 1, 31, 23, 59, 50), datetime(2026, 1, 31, 23, 59, 55)]),  # a/n
        ("0 0 0 1 1 *", [datetime(2027, 1, 1), datetime(2028, 1, 1)]),
        ("59 59 23 31 12 *", [datetime(2026, 12, 31, 23, 59, 59)]),
    ],
)
def test_next_occurrences(expression: str, expected: list[datetime]) -> None:
    assert nexts(expression, START, len(expected)) == expected


def test_the_next_occurrence_is_strictly_after_and_whole_seconds() -> None:
    cron = CronExpression.parse("0 0 * * * *")
    assert cron.next_after(datetime(2026, 1, 1, 10, 0, 0)) == datetime(2026, 1, 1, 11)
    assert cron.next_after(datetime(2026, 1, 1, 9, 59, 59, 999999)) == datetime(2026, 1, 1, 10)
    every_second = CronExpression.parse("* * * * * *")
    assert every_second.next_after(datetime(2026, 1, 1, 0, 0, 0, 500000)) == datetime(2026, 1, 1, 0, 0, 1)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "has 0 fields"),
        ("* * * *", "has 4 fields"),
        ("* * * * * * *", "has 7 fields"),
        ("61 * * * * *", "second field '61' is invalid .*from 0 to 59"),
        ("0 60 * * * *", "minute field '60' is invalid"),
        ("0 0 24 * * *", "hour field '24' is invalid"),
        ("0 0 0 0 * *", "day field '0' is invalid .*from 1 to 31"),
        ("0 0 0 * 13 *", "month field '13' is invalid"),
        ("0 0 0 * * 7", "day of week field '7' is invalid .*from 0 to 6"),
        ("0 0 0 * Foo *", "month field 'Foo' is invalid .*or a name \\(Jan"),
        ("0 0 0 * * Mondays", "day of week field 'Mondays' is invalid"),
        ("0 0 0 ? * *", "day field '\\?' is invalid"),
        ("0 0 0 L * *", "day field 'L' is invalid"),
        ("*/0 * * * * *", "step '0' must be"),
        ("0 0 1,,2 * * *", "hour field '' is invalid"),
        ("0 0 0 30 2 *", "never fires"),
        ("0 0 0 31 4,6,9,11 *", "never fires"),
    ],
)
def test_invalid_expressions_say_which_field(expression: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CronExpression.parse(expression)


def test_intervals() -> None:
    assert parse_interval("00:00:30") == timedelta(seconds=30)
    assert parse_interval("00:05") == timedelta(minutes=5)
    assert parse_interval("1.02:00:00") == timedelta(days=1, hours=2)
    assert parse_interval("00:00:00.5") == timedelta(milliseconds=500)
    assert parse_interval("24:00:00") == timedelta(days=24)  # a first part of 24 or more is days
    assert parse_interval("2") == timedelta(days=2)  # a bare number is days, as .NET reads it
    assert parse_interval("0 */5 * * * *") is None
    with pytest.raises(ConfigurationError, match="minutes or seconds above 59"):
        parse_interval("00:61:00")
    schedule = parse_schedule("00:05:00", UTC, "f")
    assert isinstance(schedule, IntervalSchedule) and not schedule.adjust_for_dst and not schedule.sub_minute
    start = datetime(2026, 3, 29, 0, 58, 30, 250000, tzinfo=UTC)
    assert schedule.next_after(start) == start + timedelta(minutes=5)  # not aligned to the clock
    assert parse_schedule("00:00:10", UTC, "f").sub_minute


def test_a_bad_schedule_names_the_function_and_shows_an_example() -> None:
    with pytest.raises(ConfigurationError, match=r"Function 'nightly'.*'every day'.*'0 \*/5 \* \* \* \*'"):
        parse_schedule("every day", UTC, "nightly")
    with pytest.raises(ConfigurationError, match=r"Function 'f'.*'00:00:00'.*longer than zero"):
        parse_schedule("00:00:00", UTC, "f")


def test_only_every_minute_schedules_with_several_seconds_keep_no_status() -> None:
    assert parse_schedule("*/2 * * * * *", UTC, "f").sub_minute
    assert parse_schedule("0,30 * * * * *", UTC, "f").sub_minute
    assert not parse_schedule("0 * * * * *", UTC, "f").sub_minute
    assert not parse_schedule("* * * * *", UTC, "f").sub_minute  # five fields: once a minute
    assert not parse_schedule("0,30 0 12 * * *", UTC, "f").sub_minute  # twice, at noon only


def test_interval_and_point_in_time_cron_schedules() -> None:
    assert CronExpression.parse("0 */30 * * * *").is_interval
    assert CronExpression.parse("0 0 9-17 * * *").is_interval
    assert not CronExpression.parse("0 30 1 * * *").is_interval
    assert not CronExpression.parse("0 30 1 * * 1-5").is_interval  # only the time fields count


def local(schedule: CronSchedule, start: datetime, count: int) -> list[str]:
    found, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment.astimezone(schedule.zone).strftime("%m-%d %H:%M%z"))
    return found


def la(expression: str) -> CronSchedule:
    schedule = parse_schedule(expression, LOS_ANGELES, "f")
    assert isinstance(schedule, CronSchedule)
    return schedule


def test_cron_times_are_wall_clock_times_in_the_time_zone() -> None:
    schedule = parse_schedule("0 30 2 * * *", time_zone("Europe/London"), "f")
    assert isinstance(schedule, CronSchedule) and schedule.adjust_for_dst
    winter = schedule.next_after(datetime(2026, 1, 10, 12, tzinfo=UTC))
    summer = schedule.next_after(datetime(2026, 7, 10, 12, tzinfo=UTC))
    assert winter == datetime(2026, 1, 11, 2, 30, tzinfo=UTC)
    assert summer == datetime(2026, 7, 11, 1, 30, tzinfo=UTC)  # 02:30 BST


def test_a_time_the_clock_skips_runs_when_it_has_jumped() -> None:
    # 10 March 2024, Los Angeles: at 02:00 PST the clock jumps to 03:00 PDT
    start = datetime(2024, 3, 9, 12, tzinfo=LOS_ANGELES)
    assert local(la("0 30 2 * * *"), start, 3) == ["03-10 03:30-0700", "03-11 02:30-0700", "03-12 02:30-0700"]
    assert local(la("0 45 2,3 * * *"), start, 2) == ["03-10 03:45-0700", "03-11 02:45-0700"]  # once
    before = datetime(2024, 3, 10, 1, 40, tzinfo=LOS_ANGELES)
    assert local(la("0 */15 * * * *"), before, 3) == [
        "03-10 01:45-0800",
        "03-10 03:00-0700",
        "03-10 03:15-0700",
    ]


def test_the_repeated_hour_runs_once_for_a_point_in_time_schedule() -> None:
    # 3 November 2024, Los Angeles: at 02:00 PDT the clock goes back to 01:00 PST
    start = datetime(2024, 11, 2, 12, tzinfo=LOS_ANGELES)
    assert local(la("0 30 1 * * *"), start, 2) == ["11-03 01:30-0700", "11-04 01:30-0800"]
    in_the_second_pass = datetime(2024, 11, 3, 1, 10, tzinfo=LOS_ANGELES, fold=1)
    assert local(la("0 30 1 * * *"), in_the_second_pass, 1) == ["11-04 01:30-0800"]


def test_the_repeated_hour_runs_twice_for_an_interval_schedule() -> None:
    start = datetime(2024, 11, 3, 0, 10, tzinfo=LOS_ANGELES)
    assert local(la("0 */30 * * * *"), start, 6) == [
        "11-03 00:30-0700",
        "11-03 01:00-0700",
        "11-03 01:30-0700",
        "11-03 01:00-0800",
        "11-03 01:30-0800",
        "11-03 02:00-0800",
    ]
    every_second = la("* * * * * *")
    last_of_summer = datetime(2024, 11, 3, 1, 59, 59, tzinfo=LOS_ANGELES)
    assert every_second.next_after(last_of_summer) == last_of_summer.astimezone(UTC) + timedelta(seconds=1)


def test_london_autumn_every_half_hour() -> None:
    schedule = parse_schedule("0 0,30 * * * *", LONDON, "f")
    runs = [datetime(2026, 10, 25, 0, 15, tzinfo=UTC)]  # 01:15 BST; at 02:00 BST clocks go back to 01:00
    for _ in range(4):
        runs.append(schedule.next_after(runs[-1]))
    assert [r.strftime("%H:%M") for r in runs[1:]] == ["00:30", "01:00", "01:30", "02:00"]  # UTC: each once


def test_windows_time_zone_names_and_unknown_names() -> None:
    assert time_zone("Eastern Standard Time") == ZoneInfo("America/New_York")
    assert time_zone("pacific standard time") == LOS_ANGELES
    assert time_zone("Europe/London") == LONDON
    assert time_zone("UTC") is UTC
    assert time_zone(None) is UTC
    assert time_zone("") is UTC
    with pytest.raises(ConfigurationError, match="WEBSITE_TIME_ZONE is 'Mars/Olympus'"):
        time_zone("Mars/Olympus")
