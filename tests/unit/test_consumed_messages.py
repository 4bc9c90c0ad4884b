"""What a commit records of the messages it consumed, and how the sentinel row holds it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from azure.storage.queue import QueueMessage

from durable_ext.azurestorage import checkpoint
from durable_ext.azurestorage.consumed import KEPT_DAYS, MAX_RECORDED, ConsumedMessages
from durable_ext.azurestorage.queues import ReceivedMessage
from durable_ext.core.history import EventType, event
from durable_ext.core.messages import TaskMessage

NOW = datetime.now(UTC)


def _received(message_id: str) -> ReceivedMessage:
    queue_message = QueueMessage(content="{}")
    queue_message.id = message_id
    message = TaskMessage(event(EventType.EventRaised, -1, Name="e"), "inst")
    return ReceivedMessage(message, queue_message, None)  # type: ignore[arg-type]


def test_a_commit_records_what_it_consumed_and_what_is_not_known_deleted() -> None:
    consumed = ConsumedMessages()
    consumed.confirm("inst", "deleted")
    consumed.confirm("other", "kept")
    previous = {"deleted": NOW, "kept": NOW, "ancient": NOW - timedelta(days=KEPT_DAYS + 1)}
    record = consumed.record("inst", previous, [_received("new")], [])
    assert set(record) == {"kept", "new"}


def test_a_message_that_came_back_stays_recorded_until_deleted() -> None:
    consumed = ConsumedMessages()
    old = NOW - timedelta(days=KEPT_DAYS + 1)
    record = consumed.record("inst", {"back": old}, [], [_received("back")])
    assert record["back"] > old
    consumed.confirm("inst", "back")
    assert consumed.record("inst", record, [], []) == {}


def test_the_record_keeps_the_newest_ids_past_its_limit() -> None:
    previous = {f"m{i}": NOW - timedelta(seconds=MAX_RECORDED - i) for i in range(MAX_RECORDED)}
    record = ConsumedMessages().record("inst", previous, [_received("new")], [])
    assert len(record) == MAX_RECORDED and "new" in record and "m0" not in record


def test_the_record_round_trips_through_sentinel_columns_of_any_size() -> None:
    record = {f"{i:08d}-0000-0000-0000-000000000000": NOW for i in range(2_000)}
    columns: dict[str, Any] = checkpoint.consumed_columns(record)
    assert columns[checkpoint.CONSUMED_PARTS] > 1
    assert all(len(v) <= checkpoint.PART_CHARS for k, v in columns.items() if isinstance(v, str))
    assert set(checkpoint.consumed_messages(columns)) == set(record)
    assert checkpoint.consumed_messages(checkpoint.consumed_columns({})) == {}
    assert checkpoint.consumed_messages({checkpoint.CONSUMED: "not json"}) == {}
