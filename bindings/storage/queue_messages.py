"""Queue message bodies on the wire, and the send that creates a missing queue.

With ``messageEncoding: base64`` (the default) the message text is the Base64 of the body's bytes (a
``str`` body is its UTF-8), as the Functions host writes and expects it; with ``none`` the text is the
body itself.
"""

from __future__ import annotations

import base64
import binascii
import contextlib

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue.aio import QueueClient

from durable_ext.azurestorage.clients import translated


def encode_body(body: str | bytes, encoding: str) -> str:
    """The message text for ``body``; ValueError for bytes that are not UTF-8 with encoding ``none``."""
    if encoding == "base64":
        data = body.encode("utf-8") if isinstance(body, str) else body
        return base64.b64encode(data).decode("ascii")
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            "a bytes message that is not UTF-8 text cannot be written with messageEncoding 'none'; use "
            "'base64' (the default) or write text"
        ) from exc


def decode_body(text: str, encoding: str) -> bytes:
    """The body bytes of a received message text; ValueError if ``base64`` text is not Base64."""
    if encoding != "base64":
        return text.encode("utf-8")
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"the message is not valid Base64 ({exc})") from exc


def body_text(body: bytes) -> str | None:
    """The body as text; None if it is not valid UTF-8."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


async def send_creating_queue(client: QueueClient, text: str) -> None:
    """Put one message; if the queue does not exist, create it and put again."""
    async with translated(f"Sending a message to queue '{client.queue_name}'"):
        try:
            await client.send_message(text)
            return
        except ResourceNotFoundError:
            pass
        with contextlib.suppress(ResourceExistsError):
            await client.create_queue()
        await client.send_message(text)
