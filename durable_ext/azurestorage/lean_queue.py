"""Queue Put Message, Get Messages, Delete Message and Update Message on the lean request path.

The requests are the queue SDK's (same URLs, query parameters, XML body and service version) and
the answers become the same ``QueueMessage`` objects, with the same values, that the SDK returns.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import quote

from azure.storage.queue import QueueMessage
from yarl import URL

from .lean_errors import raise_queue_error
from .lean_http import Answer, LeanStorage, Retries, lean_of

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


def _messages(body: bytes, content: str | None = None) -> list[QueueMessage]:
    """The ``QueueMessage`` of each ``<QueueMessage>`` of a Put or Get Messages answer."""
    found = []
    for item in ET.fromstring(body):
        fields = {child.tag: child.text for child in item}
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
        self.url = queue_url.rstrip("/")

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes | None = None,
        attempts: int | None = None,
    ) -> Answer:
        query_text = "&".join(f"{name}={quote(value, safe='')}" for name, value in query.items())
        url = URL(f"{self.url}{path}" + (f"?{query_text}" if query_text else ""))
        headers = {"x-ms-version": API_VERSION}
        if body is not None:
            headers |= {
                "Content-Length": str(len(body)),
                "Content-Type": "application/xml",
                "Accept": "application/xml",
            }
        elif method == "GET":
            headers["Accept"] = "application/xml"
        key = self.lean.key
        signed = {
            "content-length": headers.get("Content-Length", ""),
            "content-type": headers.get("Content-Type", ""),
        }

        def sign(headers: dict[str, str]) -> None:
            headers["x-ms-date"] = key.date()
            names = signed | {"x-ms-date": headers["x-ms-date"], "x-ms-version": API_VERSION}
            headers["Authorization"] = key.queue_authorization(method, url.raw_path, query, names)

        retries = self.lean.queue_retries if attempts is None else Retries(attempts, storage=True)
        return await self.lean.send(f"queue.{operation}", method, url, headers, body, sign, retries)

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
