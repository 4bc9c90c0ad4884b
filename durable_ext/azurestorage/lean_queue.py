"""Queue Put Message, Get Messages, Delete Message and Update Message on the lean request path.

The requests are the queue SDK's (same URLs, query parameters, XML body and service version) and
the answers become the same ``QueueMessage`` objects, with the same values, that the SDK returns.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from azure.storage.queue import QueueMessage

from .http1_client import Origin
from .lean_errors import raise_queue_error
from .lean_http import Answer, LeanStorage, Retries, lean_of, query_string

API_VERSION = "2026-10-06"
"""The service version the queue SDK in use sends."""
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}


def rfc1123(value: str | None) -> datetime | None:
    """``Thu, 03 Dec 2026 07:06:23 GMT`` as an aware UTC datetime (``None`` for none)."""
    if not value:
        return None
    _, day, month, year, clock, _ = value.split()
    hour, minute, second = clock.split(":")
    return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_body(content: str) -> bytes:
    """The Put Message body, byte for byte as the queue SDK writes it."""
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        f"<QueueMessage><MessageText>{_escape(content)}</MessageText></QueueMessage>"
    ).encode()


_PLAIN_LIST = re.compile(
    rb"<\?xml version=[\"']1\.0[\"'] encoding=[\"']utf-8[\"']\?>\s*<QueueMessagesList>"
    rb"((?:<QueueMessage>(?:<(\w+)>[^<&\r]*</\2>)*</QueueMessage>)*)</QueueMessagesList>\s*"
)
_PLAIN_MESSAGE = re.compile(rb"<QueueMessage>(.*?)</QueueMessage>", re.DOTALL)
_PLAIN_FIELD = re.compile(rb"<(\w+)>([^<&\r]*)</\1>")


def _message_fields(body: bytes) -> list[dict[str, str | None]]:
    """Each message's fields by tag, as ElementTree reads them (``None`` for an empty one). An answer
    of plain elements only (no attributes, entities, CDATA or carriage returns, which an XML parser
    rewrites) is read with regular expressions; any other with ElementTree."""
    plain = _PLAIN_LIST.fullmatch(body)
    if plain is None:
        return [{child.tag: child.text for child in item} for item in ET.fromstring(body)]
    return [
        {name.decode(): value.decode() or None for name, value in _PLAIN_FIELD.findall(message)}
        for message in _PLAIN_MESSAGE.findall(plain.group(1))
    ]


def _messages(body: bytes, content: str | None = None) -> list[QueueMessage]:
    """The ``QueueMessage`` of each ``<QueueMessage>`` of a Put or Get Messages answer."""
    found = []
    for fields in _message_fields(body):
        count = fields.get("DequeueCount")
        text = fields.get("MessageText", content)
        message = QueueMessage(
            content="" if text is None and "MessageText" in fields else text,
            id=fields.get("MessageId"),
            inserted_on=rfc1123(fields.get("InsertionTime")),
            expires_on=rfc1123(fields.get("ExpirationTime")),
            dequeue_count=int(count) if count is not None else None,
            pop_receipt=fields.get("PopReceipt"),
            next_visible_on=rfc1123(fields.get("TimeNextVisible")),
        )
        found.append(message)
    return found


class LeanQueue:
    """One queue's hot operations."""

    def __init__(self, lean: LeanStorage, queue_url: str) -> None:
        self.lean = lean
        self.origin, self.path = Origin.split(queue_url)

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes | None = None,
        attempts: int | None = None,
    ) -> Answer:
        resource = self.path + path
        query_text = query_string(query.items())
        target = f"{resource}?{query_text}" if query_text else resource
        headers = {"x-ms-version": API_VERSION}
        signed = {"x-ms-version": API_VERSION}
        if body is not None:
            headers["Content-Type"] = headers["Accept"] = "application/xml"
            signed |= {"content-length": str(len(body)), "content-type": "application/xml"}
        elif method == "GET":
            headers["Accept"] = "application/xml"
        key = self.lean.key

        def sign(headers: dict[str, str]) -> None:
            signed["x-ms-date"] = headers["x-ms-date"] = key.date()
            headers["Authorization"] = key.queue_authorization(method, resource, query, signed)

        retries = self.lean.queue_retries if attempts is None else Retries(attempts, storage=True)
        return await self.lean.send(
            f"queue.{operation}", method, self.origin, target, headers, body, sign, retries
        )

    async def put(
        self, content: str, visibility_timeout: int | None = None, *, attempts: int | None = None
    ) -> QueueMessage:
        """Put Message with no expiry (``messagettl=-1``), invisible for ``visibility_timeout`` s."""
        query = {"messagettl": "-1"}
        if visibility_timeout is not None:
            query = {"visibilitytimeout": str(visibility_timeout)} | query
        answer = await self._send("put", "POST", "/messages", query, message_body(content), attempts)
        if answer.status != 201:
            await raise_queue_error(answer, "POST")
        message = _messages(answer.body, content)[0]
        message.content = content
        return message

    async def get(self, max_messages: int, visibility_timeout: int) -> list[QueueMessage]:
        query = {"numofmessages": str(max_messages), "visibilitytimeout": str(visibility_timeout)}
        answer = await self._send("get", "GET", "/messages", query)
        if answer.status != 200:
            await raise_queue_error(answer, "GET")
        return _messages(answer.body)

    async def delete(self, message_id: str, pop_receipt: str) -> None:
        answer = await self._send("delete", "DELETE", f"/messages/{message_id}", {"popreceipt": pop_receipt})
        if answer.status != 204:
            await raise_queue_error(answer, "DELETE")

    async def update(self, message_id: str, pop_receipt: str, visibility_timeout: int) -> QueueMessage:
        """Update Message's visibility only; the answer's pop receipt and next-visible time."""
        query = {"popreceipt": pop_receipt, "visibilitytimeout": str(visibility_timeout)}
        answer = await self._send("update", "PUT", f"/messages/{message_id}", query)
        if answer.status != 204:
            await raise_queue_error(answer, "PUT")
        return QueueMessage(
            id=message_id,
            pop_receipt=answer.headers.get("x-ms-popreceipt"),
            next_visible_on=rfc1123(answer.headers.get("x-ms-time-next-visible")),
        )


def lean_queue(client: object) -> LeanQueue | None:
    """The lean path of an SDK ``QueueClient`` made by :class:`StorageClients` (else ``None``)."""
    lean = lean_of(client)
    url = getattr(client, "url", None)
    return None if lean is None or not isinstance(url, str) else LeanQueue(lean, url)
