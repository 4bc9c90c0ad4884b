"""A timer's schedule: an NCRONTAB expression in the app's time zone, or a fixed interval.

The time zone is ``WEBSITE_TIME_ZONE`` (an IANA name such as ``Europe/London``, or a Windows name such
as ``Eastern Standard Time``), else UTC. Cron times are wall-clock times there: a time skipped by a
spring-forward change is taken at the same offset as before it; an hour repeated by a fall-back change
runs once. An interval (``hh:mm:ss``, ``d.hh:mm:ss``) is just added to the last run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from durable_ext.errors import ConfigurationError

from .ncrontab import CronExpression

TIME_ZONE_SETTING = "WEBSITE_TIME_ZONE"

_WINDOWS_ZONES = {
    "utc": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "central europe standard time": "Europe/Budapest",
    "romance standard time": "Europe/Paris",
    "central european standard time": "Europe/Warsaw",
    "e. europe standard time": "Europe/Chisinau",
    "fle standard time": "Europe/Kiev",
    "gtb standard time": "Europe/Bucharest",
    "russian standard time": "Europe/Moscow",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver",
    "us mountain standard time": "America/Phoenix",
    "pacific standard time": "America/Los_Angeles",
    "alaskan standard time": "America/Anchorage",
    "hawaiian standard time": "Pacific/Honolulu",
    "atlantic standard time": "America/Halifax",
    "e. south america standard time": "America/Sao_Paulo",
    "india standard time": "Asia/Kolkata",
    "china standard time": "Asia/Shanghai",
    "tokyo standard time": "Asia/Tokyo",
    "korea standard time": "Asia/Seoul",
    "singapore standard time": "Asia/Singapore",
    "aus eastern standard time": "Australia/Sydney",
    "new zealand standard time": "Pacific/Auckland",
    "south africa standard time": "Africa/Johannesburg",
    "arabian standard time": "Asia/Dubai",
}


class Schedule(Protocol):
    @property
    def adjust_for_dst(self) -> bool: ...

    @property
    def sub_minute(self) -> bool:
        """Fires more often than once a minute: the timer then keeps no schedule status, as on Azure."""
        ...

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (aware UTC in, aware UTC out)."""
        ...


@dataclass(frozen=True)
class CronSchedule:
    expression: CronExpression
    zone: tzinfo
    adjust_for_dst: bool = True

    @property
    def sub_minute(self) -> bool:
        return self.expression.is_every_second_of_some_minutes()

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.zone).replace(tzinfo=None)
        while True:
            candidate = self.expression.next_after(local)
            aware = candidate.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
            if aware > moment:
                return aware
            local = candidate  # the repeated hour of a fall-back change: already past


@dataclass(frozen=True)
class IntervalSchedule:
    interval: timedelta
    adjust_for_dst: bool = False

    @property
    def sub_minute(self) -> bool:
        return self.interval < timedelta(minutes=1)

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


_SPAN = re.compile(r"^(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d+))?)?$")


def parse_interval(text: str) -> timedelta | None:
    """A .NET TimeSpan text (``hh:mm[:ss]``, ``d.hh:mm:ss``; a first part of 24 or more is ``dd:hh:mm``)."""
    found = _SPAN.match(text.strip())
    if found is None:
        return None
    days, first, second, third, fraction = found.groups()
    a, b = int(first), int(second)
    if days is None and third is not None and a >= 24:
        return timedelta(days=a, hours=b, minutes=int(third))
    span = timedelta(days=int(days or 0), hours=a, minutes=b, seconds=int(third or 0))
    return span + timedelta(seconds=float("0." + fraction)) if fraction else span


def time_zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    iana = _WINDOWS_ZONES.get(name.strip().lower(), name.strip())
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"The app setting {TIME_ZONE_SETTING} is '{name}', which is not a time zone this host knows. Use "
            "an IANA name such as 'Europe/London' or 'America/New_York', or remove it for UTC."
        ) from exc


def parse_schedule(text: str, zone: tzinfo, function_name: str) -> Schedule:
    interval = parse_interval(text)
    if interval is not None:
        if interval <= timedelta(0):
            raise ConfigurationError(f"Function '{function_name}': the interval '{text}' must be positive.")
        return IntervalSchedule(interval)
    try:
        return CronSchedule(CronExpression.parse(text), zone)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"Function '{function_name}': the schedule expression '{text}' was not recognized as a valid "
            f"cron expression or timespan string: {exc} Write six fields, seconds first ('0 */5 * * * *': "
            "every five minutes), or an interval ('00:05:00')."
        ) from exc
