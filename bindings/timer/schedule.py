"""A timer's schedule: an NCRONTAB expression in the app's time zone, or a fixed interval.

The time zone is ``WEBSITE_TIME_ZONE`` (an IANA name such as ``Europe/London``, or a common Windows
name such as ``Eastern Standard Time``), else UTC. Cron times are wall-clock times there, and daylight
saving changes are handled as the Functions host does:

* a time the clock skips when it springs forward runs when the clock has jumped (``02:30`` at 03:30);
* in the hour a fall-back change repeats, a point-in-time schedule (``0 30 1 * * *``) runs once, at the
  first pass, while an interval schedule (``*``, ``/`` or ``-`` in the second, minute or hour field)
  keeps running through both passes.

An interval (``hh:mm:ss``, ``d.hh:mm:ss``, or a number of days) is added to the time of the last run,
whatever the clock says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from durable_ext.errors import ConfigurationError

from .ncrontab import CronExpression

TIME_ZONE_SETTING = "WEBSITE_TIME_ZONE"

WINDOWS_ZONES = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "central europe standard time": "Europe/Budapest",
    "romance standard time": "Europe/Paris",
    "central european standard time": "Europe/Warsaw",
    "e. europe standard time": "Europe/Chisinau",
    "fle standard time": "Europe/Kyiv",
    "gtb standard time": "Europe/Bucharest",
    "turkey standard time": "Europe/Istanbul",
    "russian standard time": "Europe/Moscow",
    "israel standard time": "Asia/Jerusalem",
    "egypt standard time": "Africa/Cairo",
    "south africa standard time": "Africa/Johannesburg",
    "morocco standard time": "Africa/Casablanca",
    "arabian standard time": "Asia/Dubai",
    "india standard time": "Asia/Kolkata",
    "se asia standard time": "Asia/Bangkok",
    "china standard time": "Asia/Shanghai",
    "taipei standard time": "Asia/Taipei",
    "singapore standard time": "Asia/Singapore",
    "tokyo standard time": "Asia/Tokyo",
    "korea standard time": "Asia/Seoul",
    "w. australia standard time": "Australia/Perth",
    "cen. australia standard time": "Australia/Adelaide",
    "e. australia standard time": "Australia/Brisbane",
    "aus eastern standard time": "Australia/Sydney",
    "new zealand standard time": "Pacific/Auckland",
    "hawaiian standard time": "Pacific/Honolulu",
    "alaskan standard time": "America/Anchorage",
    "pacific standard time": "America/Los_Angeles",
    "us mountain standard time": "America/Phoenix",
    "mountain standard time": "America/Denver",
    "central standard time": "America/Chicago",
    "central standard time (mexico)": "America/Mexico_City",
    "eastern standard time": "America/New_York",
    "sa pacific standard time": "America/Bogota",
    "atlantic standard time": "America/Halifax",
    "newfoundland standard time": "America/St_Johns",
    "e. south america standard time": "America/Sao_Paulo",
    "argentina standard time": "America/Argentina/Buenos_Aires",
}
"""Windows time zone ids (as ``WEBSITE_TIME_ZONE`` takes them on Windows plans) and their IANA zones."""


class Schedule(Protocol):
    @property
    def zone(self) -> tzinfo:
        """The time zone the schedule status and the function see times in."""
        ...

    @property
    def adjust_for_dst(self) -> bool:
        """What ``TimerRequest.schedule["AdjustForDST"]`` says: true for cron, false for intervals."""
        ...

    @property
    def sub_minute(self) -> bool:
        """Fires more often than once a minute: the timer then keeps no schedule status, as on Azure."""
        ...

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (aware in, aware UTC out)."""
        ...


class _WallTime(Enum):
    NORMAL = "normal"
    REPEATED = "repeated"
    """In the hour a fall-back change repeats: two instants have this wall time."""
    SKIPPED = "skipped"
    """In the hour a spring-forward change skips: no instant has it."""


@dataclass(frozen=True)
class CronSchedule:
    expression: CronExpression
    zone: tzinfo = UTC

    @property
    def adjust_for_dst(self) -> bool:
        return True

    @property
    def sub_minute(self) -> bool:
        return self.expression.fires_more_than_once_a_minute

    def next_after(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC)
        found = self._next_by_wall_clock(moment)
        if self.expression.is_interval:
            repeated = self._second_pass_before(moment, found)
            if repeated is not None:
                return repeated
        return found

    def _next_by_wall_clock(self, moment: datetime) -> datetime:
        wall = self._wall(moment)
        while True:
            wall = self.expression.next_after(wall)
            kind = self._kind(wall)
            if kind is _WallTime.SKIPPED:
                return self._after_a_skip(wall)
            first = self._instant(wall, fold=0)
            if first > moment:
                return first
            if kind is _WallTime.REPEATED and self.expression.is_interval:
                second = self._instant(wall, fold=1)
                if second > moment:
                    return second
            # else the first pass of a repeated hour, already past: a point-in-time schedule ran then

    def _after_a_skip(self, skipped: datetime) -> datetime:
        """A skipped wall time runs when the clock has jumped, unless a real time after it comes first."""
        shifted = self._instant(skipped, fold=0)  # the offset before the change: after the jump
        wall = skipped
        while True:
            wall = self.expression.next_after(wall)
            instant = self._instant(wall, fold=0)
            if instant >= shifted:
                return shifted
            if self._kind(wall) is not _WallTime.SKIPPED:
                return instant

    def _second_pass_before(self, moment: datetime, found: datetime) -> datetime | None:
        """For interval schedules: an occurrence in the second pass of a repeated hour before ``found``."""
        if not _offset(found, self.zone) < _offset(moment, self.zone):
            return None
        change = _change_between(moment, found, self.zone)
        wall = self.expression.next_after(self._wall(change) - timedelta(seconds=1))
        if self._kind(wall) is not _WallTime.REPEATED:
            return None
        second = self._instant(wall, fold=1)
        return second if moment < second < found else None

    def _wall(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _instant(self, wall: datetime, fold: int) -> datetime:
        return wall.replace(tzinfo=self.zone, fold=fold).astimezone(UTC)

    def _kind(self, wall: datetime) -> _WallTime:
        first, second = (wall.replace(tzinfo=self.zone, fold=fold) for fold in (0, 1))
        if first.utcoffset() == second.utcoffset():
            return _WallTime.NORMAL
        round_trip = first.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        return _WallTime.REPEATED if round_trip == wall else _WallTime.SKIPPED


def _offset(moment: datetime, zone: tzinfo) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _change_between(start: datetime, end: datetime, zone: tzinfo) -> datetime:
    """The first whole second after ``start`` whose UTC offset is ``end``'s (one change in between)."""
    target = _offset(end, zone)
    low, high = int(start.timestamp()), int(end.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(datetime.fromtimestamp(middle, UTC), zone) == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@dataclass(frozen=True)
class IntervalSchedule:
    interval: timedelta
    zone: tzinfo = UTC

    @property
    def adjust_for_dst(self) -> bool:
        return False

    @property
    def sub_minute(self) -> bool:
        return self.interval < timedelta(minutes=1)

    def next_after(self, moment: datetime) -> datetime:
        return moment.astimezone(UTC) + self.interval


_SPAN = re.compile(r"(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d{1,7}))?)?")


def parse_interval(text: str) -> timedelta | None:
    """A .NET TimeSpan text, or None if ``text`` is not one (then it may be a cron expression).

    ``hh:mm[:ss[.fffffff]]``, ``d.hh:mm:ss`` or a number of days; ``hh:mm:ss`` whose first part is 24
    or more is ``dd:hh:mm``, as the Functions documentation has it.
    """
    stripped = text.strip()
    if stripped.isdigit():
        return timedelta(days=int(stripped))
    found = _SPAN.fullmatch(stripped)
    if found is None:
        return None
    days, first, second, third, fraction = found.groups()
    parts = [int(days or 0), int(first), int(second), int(third or 0)]
    if days is None and third is not None and parts[1] >= 24:
        parts = [parts[1], parts[2], parts[3], 0]
    if parts[1] > 23 or parts[2] > 59 or parts[3] > 59:
        raise ConfigurationError(
            f"the time span '{text}' has hours above 23 or minutes or seconds above 59 (write one day as "
            "'1.00:00:00')"
        )
    span = timedelta(days=parts[0], hours=parts[1], minutes=parts[2], seconds=parts[3])
    return span + timedelta(seconds=int(fraction) / 10 ** len(fraction)) if fraction else span


def time_zone(name: str | None) -> tzinfo:
    """The zone ``WEBSITE_TIME_ZONE`` names (IANA or Windows name); UTC when it is not set."""
    if not name or not name.strip():
        return UTC
    iana = WINDOWS_ZONES.get(name.strip().lower(), name.strip())
    try:
        return UTC if iana == "UTC" else ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"The app setting {TIME_ZONE_SETTING} is '{name}', which is not a time zone this host knows. "
            "Use an IANA name such as 'Europe/London' or 'America/New_York', a Windows name such as "
            "'Eastern Standard Time', or remove it for UTC."
        ) from exc


EXAMPLE = (
    "Write six fields, seconds first ('0 */5 * * * *': every five minutes; '0 30 9 * * 1-5': 09:30 on "
    "weekdays), or an interval ('00:05:00')."
)


def parse_schedule(text: str, zone: tzinfo, function_name: str) -> Schedule:
    """The schedule ``text`` stands for; ConfigurationError naming the function and showing an example."""
    try:
        interval = parse_interval(text)
        if interval is not None:
            if interval <= timedelta(0):
                raise ConfigurationError("an interval must be longer than zero")
            return IntervalSchedule(interval, zone)
        return CronSchedule(CronExpression.parse(text), zone)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"Function '{function_name}': the schedule expression '{text}' was not recognized as a valid "
            f"cron expression or timespan string: {str(exc).rstrip('.')}. {EXAMPLE}"
        ) from exc
