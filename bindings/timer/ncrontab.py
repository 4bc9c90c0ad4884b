"""NCRONTAB expressions as the Functions timer reads them: ``{second} {minute} {hour} {day} {month} {dow}``.

Six fields (seconds first) or five (no seconds: second 0). Each field is a comma-separated list of
``*``, a value, a range ``a-b`` (a reversed range is read the right way round), or a step ``*/n``,
``a-b/n`` or ``a/n`` (from ``a`` to the field's end). Months and days of the week may be English names
or any prefix of them, case-insensitive (``Jan``, ``mon``, ``Tues``); the day of the week is 0-6, Sunday
being 0. A time matches when every field does, the day of the month *and* the day of the week.
Occurrences are whole seconds, strictly after the time asked about, in wall-clock (naive) time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from durable_ext.errors import ConfigurationError

_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_GREGORIAN_CYCLE_YEARS = 400
"""Every (month, day, weekday) that can ever match does so within one 400-year calendar cycle."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, _MONTH_NAMES),
    _Field("day of week", 0, 6, _DAY_NAMES),
)


@dataclass(frozen=True)
class CronExpression:
    """A parsed NCRONTAB expression: the sorted values each field allows."""

    text: str
    fields: tuple[str, ...]
    """The six fields as written (``0`` for the seconds of a five-field expression)."""
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        fields = text.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise ConfigurationError(
                f"'{text}' has {len(fields)} fields; an NCRONTAB expression has six ({{second}} {{minute}} "
                "{hour} {day} {month} {day-of-week}) or five (no seconds)."
            )
        values = [_parse_field(text, value, spec) for value, spec in zip(fields, _FIELDS, strict=True)]
        expression = cls(text, tuple(fields), *values)
        if not any(
            day <= _LONGEST_MONTH[month - 1] for month in expression.months for day in expression.days
        ):
            raise ConfigurationError(
                f"'{text}' never fires: none of its months has the day {_listed(expression.days)}."
            )
        return expression

    @property
    def is_interval(self) -> bool:
        """True when the second, minute or hour field has ``*``, ``/`` or ``-``: it repeats within a day.

        Such a schedule keeps firing through the hour a fall-back change repeats; a point-in-time one
        (``0 30 1 * * *``) fires once on that day.
        """
        return any(mark in field for field in self.fields[:3] for mark in "*/-")

    @property
    def fires_more_than_once_a_minute(self) -> bool:
        """Every minute of every day, at two or more seconds: the timer then keeps no schedule status."""
        return all(field == "*" for field in self.fields[1:]) and len(self.seconds) > 1

    def next_after(self, moment: datetime) -> datetime:
        """The first matching wall-clock time strictly after ``moment`` (naive, whole seconds)."""
        t = moment.replace(tzinfo=None, microsecond=0) + timedelta(seconds=1)
        limit = t.year + _GREGORIAN_CYCLE_YEARS
        while t.year <= limit:
            month = _at_or_after(self.months, t.month)
            if month is None:
                t = datetime(t.year + 1, 1, 1)
            elif month != t.month:
                t = datetime(t.year, month, 1)
            elif not self._matches_day(t.date()) or (hour := _at_or_after(self.hours, t.hour)) is None:
                t = datetime.combine(t.date() + timedelta(days=1), time())
            elif hour != t.hour:
                t = t.replace(hour=hour, minute=0, second=0)
            elif (minute := _at_or_after(self.minutes, t.minute)) is None:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
            elif minute != t.minute:
                t = t.replace(minute=minute, second=0)
            elif (second := _at_or_after(self.seconds, t.second)) is None:
                t = t.replace(second=0) + timedelta(minutes=1)
            else:
                return t.replace(second=second)
        raise AssertionError(f"'{self.text}' has no occurrence in {_GREGORIAN_CYCLE_YEARS} years")

    def _matches_day(self, day: date) -> bool:
        return _contains(self.days, day.day) and _contains(self.weekdays, day.isoweekday() % 7)


def _at_or_after(values: tuple[int, ...], value: int) -> int | None:
    index = bisect.bisect_left(values, value)
    return values[index] if index < len(values) else None


def _contains(values: tuple[int, ...], value: int) -> bool:
    return _at_or_after(values, value) == value


def _listed(values: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in values)


def _parse_field(text: str, value: str, field: _Field) -> tuple[int, ...]:
    found: set[int] = set()
    for part in value.split(","):
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise _invalid(text, field, part, f"the step '{step_text}' must be a whole number from 1")
            step = int(step_text)
        if body == "*":
            start, end = field.low, field.high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = sorted((_value(text, field, first), _value(text, field, last)))
        else:
            start = _value(text, field, body)
            end = field.high if slash else start
        found.update(range(start, end + 1, step))
    return tuple(sorted(found))


def _value(text: str, field: _Field, value: str) -> int:
    if value.isdigit():
        number = int(value)
        if not field.low <= number <= field.high:
            raise _invalid(text, field, value, f"it must be from {field.low} to {field.high}")
        return number
    if field.names and value.isalpha():
        lowered = value.lower()
        for index, name in enumerate(field.names):
            if name.lower().startswith(lowered):
                return field.low + index
    why = f"a number from {field.low} to {field.high}"
    if field.names:
        why += f" or a name ({', '.join(n[:3] for n in field.names)})"
    raise _invalid(text, field, value, f"it must be {why}")


def _invalid(text: str, field: _Field, value: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"'{text}' is not a valid NCRONTAB expression: its {field.name} field '{value}' is invalid ({why})."
    )
