"""Date-time text as .NET writes it, for any datetime."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from durable_ext.core.timefmt import format_dotnet


def _strftime_form(value: datetime) -> str:
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def test_format_dotnet_is_the_strftime_form() -> None:
    rng = random.Random(7)
    zones = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
    values = [datetime(1, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
    values += [datetime(2026, 1, 1, 12, 0, 0)]  # naive: local time, as astimezone takes it
    for _ in range(2000):
        moment = datetime(1000, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.uniform(0, 4e10))
        values.append(moment.astimezone(rng.choice(zones)))
    for value in values:
        assert format_dotnet(value) == _strftime_form(value)
    assert format_dotnet(datetime(2026, 5, 9, 7, 5, 2, 30, tzinfo=UTC)) == "2026-05-09T07:05:02.0000300Z"
