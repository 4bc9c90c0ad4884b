"""Put and Get Messages answers are read as ElementTree reads them, whichever way they are read."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from durable_ext.azurestorage.lean_queue import _message_fields, _messages

PROLOG = b'<?xml version="1.0" encoding="utf-8"?>'
PUT = (
    PROLOG + b"<QueueMessagesList><QueueMessage><MessageId>4f1c-9a</MessageId>"
    b"<InsertionTime>Thu, 09 May 2026 07:35:25 GMT</InsertionTime>"
    b"<ExpirationTime>Fri, 31 Dec 9999 23:59:59 GMT</ExpirationTime><PopReceipt>AgAA+/=</PopReceipt>"
    b"<TimeNextVisible>Thu, 09 May 2026 07:35:55 GMT</TimeNextVisible></QueueMessage></QueueMessagesList>"
)
ANSWERS = [
    PUT,
    PROLOG + b"<QueueMessagesList></QueueMessagesList>",
    PROLOG + b"<QueueMessagesList><QueueMessage><MessageText></MessageText><DequeueCount>2</DequeueCount>"
    b"</QueueMessage><QueueMessage><MessageText>\xc3\xa4 {}</MessageText></QueueMessage></QueueMessagesList>",
    PROLOG + b"<QueueMessagesList><QueueMessage><MessageText>&quot;a&lt;&#x41;</MessageText>"
    b"</QueueMessage></QueueMessagesList>",
    PROLOG + b"<QueueMessagesList><QueueMessage><MessageText>a\r\nb</MessageText>"
    b"</QueueMessage></QueueMessagesList>",
    PROLOG + b"<QueueMessagesList><QueueMessage><MessageText><![CDATA[<x>]]></MessageText></QueueMessage>"
    b"</QueueMessagesList>",
    b"<?xml version='1.0' encoding='utf-8'?>\n<QueueMessagesList>\n  <QueueMessage>\n"
    b"    <MessageId>x</MessageId>\n  </QueueMessage>\n</QueueMessagesList>\n",
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_fields_are_what_elementtree_reads(answer: bytes) -> None:
    assert _message_fields(answer) == [{c.tag: c.text for c in item} for item in ET.fromstring(answer)]


def test_a_put_answer_becomes_the_sdks_message() -> None:
    [message] = _messages(PUT, "body")
    assert (message.id, message.pop_receipt, message.content) == ("4f1c-9a", "AgAA+/=", "body")
    assert message.inserted_on is not None and message.inserted_on.isoformat() == "2026-05-09T07:35:25+00:00"
