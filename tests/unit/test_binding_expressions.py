"""Binding expressions and the shared conversions every binding uses."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Optional

import pytest

from bindings.conversion import Datum, collector_items, item_text, without_none
from bindings.expressions import captures, dotnet_format, resolve
from durable_ext.errors import ConfigurationError


def test_names_are_matched_case_insensitively_and_read_into_objects() -> None:
    data = {"QueueTrigger": "abc", "order": {"Id": 7, "when": datetime(2026, 3, 1, 9, 5, tzinfo=UTC)}}
    assert resolve("out/{queuetrigger}-{ORDER.id}.txt", data) == "out/abc-7.txt"
    assert resolve("{order.when:yyyy-MM-dd}", data) == "2026-03-01"
    assert resolve("{{literal}}-{QueueTrigger}", data) == "{literal}-abc"


def test_built_ins() -> None:
    guid = resolve("{rand-guid}", {})
    assert uuid.UUID(guid) and guid == guid.lower() and len(guid) == 36
    assert re.fullmatch(r"[0-9a-f]{32}", resolve("{rand-guid:N}", {}))
    now = datetime(2018, 2, 16, 17, 59, 55, tzinfo=UTC)
    assert resolve("{DateTime}", {}, now=now) == "2018-02-16T17-59-55Z"
    offset = datetime(2018, 2, 16, 17, 59, 55, 123000, tzinfo=timezone(timedelta(hours=-5)))
    assert dotnet_format(offset, "HH:mm:ss.fff K") == "17:59:55.123 -05:00"
    assert resolve("{id}", {"id": "from-data"}) == "from-data"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("a/{missing}", "No value for named parameter 'missing'"),
        ("a/{b", "never closed"),
        ("a}b", "no matching"),
    ],
)
def test_bad_templates_and_missing_values(template: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve(template, {"present": 1})


def test_patterns_capture_across_slashes_and_must_match_whole() -> None:
    assert captures("{name}.{ext}", "a/b.c.txt") == {"name": "a/b.c", "ext": "txt"}
    assert captures("original-{name}", "other-x") is None


def test_optional_annotations_convert_as_their_type() -> None:
    assert without_none(Optional[str]) is str  # noqa: UP045 - the spelling users write
    assert without_none(bytes | None) is bytes
    assert without_none(int | str | None) == int | str | None


def test_collector_items_split_as_the_host_does() -> None:
    assert collector_items(Datum('["a", {"b": 1}]', "string")) == ["a", {"b": 1}]
    assert collector_items(Datum('{"b": 1}', "json")) == [{"b": 1}]
    assert collector_items(Datum("plain", "string")) == ["plain"]
    assert item_text({"b": 1}) == '{\n  "b": 1\n}'
