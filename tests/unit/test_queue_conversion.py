"""What a queue-triggered function receives, and how a queue output value becomes messages."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
import pytest

from bindings import expressions
from bindings.base import FunctionInfo
from bindings.conversion import decode_argument
from bindings.storage.accounts import StorageAccounts
from bindings.storage.queue_listener import ReceivedQueueMessage
from bindings.storage.queue_messages import decode_body, encode_body
from bindings.storage.queue_output import QueueOutputBinding
from bindings.storage.queue_trigger import NEVER, trigger_data
from bindings.storage.queue_watch import QueueWatch

INSERTED = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


def received(body: bytes, dequeue_count: int = 1) -> ReceivedQueueMessage:
    return ReceivedQueueMessage(
        id="m-1",
        pop_receipt="receipt",
        dequeue_count=dequeue_count,
        inserted_on=INSERTED,
        expires_on=datetime(2024, 5, 8, 10, 0, tzinfo=UTC),
        next_visible_on=None,
        text=base64.b64encode(body).decode(),
        body=body,
    )


def as_queue_message(message: ReceivedQueueMessage) -> func.QueueMessage:
    datum, metadata, _ = trigger_data(message, binary=False)
    decoded = decode_argument("queueTrigger", func.QueueMessage, datum, metadata)
    assert isinstance(decoded, func.QueueMessage)
    return decoded


def test_the_function_gets_a_queue_message_with_the_metadata() -> None:
    message = as_queue_message(received(b"hello", dequeue_count=3))
    assert message.get_body() == b"hello"
    assert message.id == "m-1"
    assert message.dequeue_count == 3
    assert message.pop_receipt == "receipt"
    assert message.insertion_time == INSERTED
    assert message.expiration_time == datetime(2024, 5, 8, 10, 0, tzinfo=UTC)
    assert message.time_next_visible is not None and message.time_next_visible.year == 9999


def test_json_body_properties_join_the_binding_data_and_override_metadata() -> None:
    message = received(b'{"id": "mine", "city": "Oslo", "n": 2, "ok": true, "box": {"w": 1}, "l": [1]}')
    _, _, data = trigger_data(message, binary=False)
    assert data["Id"] == "mine" and "id" not in data
    assert (data["city"], data["n"], data["ok"]) == ("Oslo", "2", "True")
    assert "l" not in data
    assert expressions.resolve("{box.w}", data) == "1"
    assert as_queue_message(message).id == "mine"
    assert expressions.resolve("out-{DequeueCount}-{city}", data) == "out-1-Oslo"


def test_binary_data_type_gives_bytes_and_invalid_utf8_has_no_queue_trigger() -> None:
    message = received(b"\xff\x00raw")
    datum, metadata, data = trigger_data(message, binary=True)
    assert datum.type == "bytes" and datum.value == b"\xff\x00raw"
    assert "QueueTrigger" not in data and "QueueTrigger" not in metadata
    text_datum, _, _ = trigger_data(message, binary=False)
    assert text_datum.type == "string" and "\ufffd" in text_datum.value
    assert decode_argument("queueTrigger", bytes, datum, metadata) == b"\xff\x00raw"


def test_missing_times_are_the_hosts_defaults() -> None:
    message = received(b"x")
    message.expires_on = None
    _, _, data = trigger_data(message, binary=False)
    assert data["ExpirationTime"] == NEVER
    assert data["NextVisibleTime"] == NEVER


def test_message_encodings() -> None:
    assert encode_body("héllo", "base64") == base64.b64encode("héllo".encode()).decode()
    assert decode_body(encode_body(b"\x00\x01", "base64"), "base64") == b"\x00\x01"
    assert encode_body(b"text", "none") == "text"
    assert decode_body("plain", "none") == b"plain"
    with pytest.raises(ValueError, match="Base64"):
        decode_body("not base64!", "base64")
    with pytest.raises(ValueError, match="messageEncoding 'none'"):
        encode_body(b"\xff", "none")


def output_for(annotation: Any) -> QueueOutputBinding:
    def handler(msg: str, out: annotation) -> None:
        return None

    function = FunctionInfo(
        "f", "queueTrigger", {"type": "queueTrigger", "name": "msg"}, (), user_function=handler
    )
    return QueueOutputBinding(
        parameter_name="out",
        function=function,
        template="out",
        connection="AzureWebJobsStorage",
        encoding="base64",
        accounts=StorageAccounts(lambda name: None),
        watch=QueueWatch(),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", ["plain"]),
        (b"\x01bytes", [b"\x01bytes"]),
        ('["a", "b"]', ["a", "b"]),
        ('{"k": 1}', ['{\n  "k": 1\n}']),
        (["x", {"k": 1}, 3, b"b"], ["x", '{\n  "k": 1\n}', "3", b"b"]),
        ({"k": "v"}, ['{\n  "k": "v"\n}']),
        (7, ["7"]),
        (func.QueueMessage(body="from a message"), [b"from a message"]),
        ([func.QueueMessage(body="one"), "two"], [b"one", "two"]),
    ],
)
def test_output_values_become_messages(value: Any, expected: list[Any]) -> None:
    assert output_for(func.Out[str]).messages(value) == expected
    assert output_for(None).messages(value) == expected


def test_a_null_item_fails_the_write() -> None:
    with pytest.raises(ValueError, match="null"):
        output_for(None).messages(["a", None])
