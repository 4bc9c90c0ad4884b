"""NCRONTAB expressions as the Functions timer reads them: ``{second} {minute} {hour} {day} {month} {dow}``.

Six fields (seconds first) or five (no seconds: second 0). Each field is ``*``, a value, a range
``a-b``, a list ``a,b``, or a step ``*/n`` / ``a-b/n``. Months and days of the week may be names
(``Jan``, ``Mon``, case-insensitive); the day of the week is 0-6, Sunday being 0. A time matches when
every field does, the day of the month and the day of the week both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from durable_ext.errors import ConfigurationError

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FIELDS = (
    ("second", 0, 59, None),
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day", 1, 31, None),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_SEARCH_YEARS = 8


@dataclass(frozen=True)
class CronExpression:
    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        fields = text.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise ConfigurationError(
                f"'{text}' has {len(fields)} fields; an NCRONTAB expression has six (second minute hour "
                "day month day-of-week, e.g. '0 */5 * * * *' for every five minutes) or five."
            )
        sets = [_field(text, value, *spec) for value, spec in zip(fields, _FIELDS, strict=True)]
        return cls(text, *sets)

    def is_every_second_of_some_minutes(self) -> bool:
        """True when it fires more than once a minute (the timer then keeps no schedule status)."""
        return len(self.seconds) > 1

    def next_after(self, moment: datetime) -> datetime:
        """The first matching time strictly after ``moment`` (whole seconds, same tzinfo: wall time)."""
        t = moment.replace(microsecond=0) + timedelta(seconds=1)
        limit = moment + timedelta(days=366 * _SEARCH_YEARS)
        while t <= limit:
            if t.month not in self.months:
                t = _next_month(t)
            elif t.day not in self.days or (t.isoweekday() % 7) not in self.weekdays:
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t = t.replace(second=0) + timedelta(minutes=1)
            elif t.second not in self.seconds:
                t += timedelta(seconds=1)
            else:
                return t
        raise ConfigurationError(f"The schedule '{self.text}' never fires (no date matches all its fields).")


def _next_month(t: datetime) -> datetime:
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return t.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)


def _field(text: str, value: str, name: str, low: int, high: int, names: list[str] | None) -> frozenset[int]:
    found: set[int] = set()
    for part in value.split(","):
        body, _, step_text = part.partition("/")
        step = _number(text, name, step_text, 1, high - low + 1, None) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = (
                _number(text, name, first, low, high, names),
                _number(text, name, last, low, high, names),
            )
        else:
            start = _number(text, name, body, low, high, names)
            end = high if step_text else start
        if start > end:
            raise _bad(text, name, part, f"the range runs backwards ({start} > {end})")
        found.update(range(start, end + 1, step))
    return frozenset(found)


def _number(text: str, name: str, value: str, low: int, high: int, names: list[str] | None) -> int:
    if names is not None and value[:3].lower() in names and value.isalpha():
        return names.index(value[:3].lower()) + (1 if names is _MONTHS else 0)
    if not value.isdigit():
        raise _bad(text, name, value, "it is not a number" + (" or a name" if names else ""))
    number = int(value)
    if not low <= number <= high:
        raise _bad(text, name, value, f"it must be from {low} to {high}")
    return number


def _bad(text: str, name: str, value: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"'{text}' is not a valid NCRONTAB expression: its {name} field '{value}' is invalid ({why})."
    )
