"""Thresholds and blob names for payloads that do not fit a queue message or a table property."""

from __future__ import annotations

import re

from durable_ext.azurestorage.large_payloads import (
    MAX_MESSAGE_BYTES,
    MAX_PROPERTY_UTF16_BYTES,
    message_blob_name,
    message_too_large,
    property_blob_name,
    property_too_large,
)


def test_message_threshold_counts_utf8_bytes() -> None:
    assert not message_too_large("a" * MAX_MESSAGE_BYTES)
    assert message_too_large("a" * (MAX_MESSAGE_BYTES + 1))
    assert message_too_large("é" * (MAX_MESSAGE_BYTES // 2 + 1))  # two bytes each in UTF-8


def test_property_threshold_counts_utf16_bytes() -> None:
    assert not property_too_large("a" * (MAX_PROPERTY_UTF16_BYTES // 2))
    assert property_too_large("a" * (MAX_PROPERTY_UTF16_BYTES // 2 + 1))


def test_blob_names_follow_the_reference() -> None:
    name = message_blob_name("order-1", "5406d369-4369-4673-afae-6671a2fa1e57", "ExecutionStarted")
    assert name == "order-1/message-5406d36943694673afae6671a2fa1e57-ExecutionStarted.json.gz"
    history = property_blob_name("order^01", "000000000000000A", "TaskCompleted", "Result")
    assert re.fullmatch(
        r"order\^01/history-000000000000000A-TaskCompleted-[0-9A-F]{8}-Result\.json\.gz", history
    )
