"""A client's message is put once: when the put went out and no answer came back, it is not repeated.

The storage SDK retries a request whose connection broke after it was sent; for a Put Message that may
have landed, that is a second copy of the message, which no receiver could tell from the first. This
runs the provider's queue against a server that reads each request and hangs up without answering.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from durable_ext.azurestorage.clients import StorageClients
from durable_ext.azurestorage.queues import TaskHubQueue
from durable_ext.core.history import EventType, event
from durable_ext.core.messages import TaskMessage
from durable_ext.errors import TransientStorageError
from tests.e2e.hosting import free_port

ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@contextlib.asynccontextmanager
async def _hang_up_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server that reads one HTTP request per connection, then closes it without a response."""
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        requests.append(head.split(b"\r\n")[0])
        writer.close()

    port = free_port()
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        yield port, requests


def _queue(port: int) -> tuple[StorageClients, TaskHubQueue]:
    endpoint = f"http://127.0.0.1:{port}/devstoreaccount1"
    clients = StorageClients.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={ACCOUNT_KEY};"
        f"QueueEndpoint={endpoint};TableEndpoint={endpoint};BlobEndpoint={endpoint}"
    )
    return clients, TaskHubQueue(clients.queues.get_queue_client("hub-control-00"), 30, 1)


def _message() -> TaskMessage:
    return TaskMessage(event(EventType.EventRaised, -1, Name="op", Input="{}"), "@counter@k")


@pytest.mark.parametrize("held", [False, True])
async def test_a_client_message_whose_put_got_no_answer_is_not_put_again(held: bool) -> None:
    async with _hang_up_server() as (port, requests):
        clients, queue = _queue(port)
        async with clients.queues:
            with pytest.raises(TransientStorageError, match="may or may not have arrived"):
                if held:
                    await queue.send_held(_message(), once=True)
                else:
                    await queue.send(_message(), once=True)
    assert len(requests) == 1, requests
