"""The lean path's HTTP/1.1 client against small real servers: framing, keep-alive, timeouts, faults.

Each server is an asyncio server on a free port that answers with bytes written here, so every way an
answer can be framed or broken is exercised on a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from azure.core.exceptions import (
    IncompleteReadError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from durable_ext.azurestorage.health import classify
from durable_ext.azurestorage.http1_client import (
    ConnectFailed,
    ConnectionPool,
    Disconnected,
    IncompleteBody,
    MalformedAnswer,
    Origin,
    ReadTimedOut,
    request_bytes,
)
from durable_ext.azurestorage.lean_http import transport_error
from tests.e2e.hosting import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """Counts connections and requests; ``answers`` are written one per request, in order."""

    def __init__(self, answers: list[bytes], *, close_after: bool = False) -> None:
        self.answers = answers
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0)
                if answer == b"HANG UP":
                    break
                if answer == b"SILENCE":
                    await asyncio.sleep(5)
                    break
                for piece in answer.split(b"|"):  # written apart, so the client reads it in pieces
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                if self.close_after:
                    break
        writer.close()


@contextlib.asynccontextmanager
async def serving(server: Server) -> AsyncIterator[Origin]:
    port = free_port()
    listening = await asyncio.start_server(server.handle, "127.0.0.1", port)
    async with listening:
        yield Origin.split(f"http://127.0.0.1:{port}/acc")[0]


def pool(read_timeout_s: float = 5, idle_s: float = 4) -> ConnectionPool:
    return ConnectionPool(connect_timeout_s=2, read_timeout_s=read_timeout_s, idle_s=idle_s)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-ms-a: 1\r\nX-Ms-A: 2\r\n\r\nhello"


def test_origin_and_request_bytes() -> None:
    origin, path = Origin.split("https://acc.table.core.windows.net/")
    assert (origin.tls, origin.host, origin.port, origin.host_header, path) == (
        True,
        "acc.table.core.windows.net",
        443,
        "acc.table.core.windows.net",
        "",
    )
    origin, path = Origin.split("http://127.0.0.1:10001/devstoreaccount1/q")
    assert (origin.host_header, path) == ("127.0.0.1:10001", "/devstoreaccount1/q")
    put = request_bytes(origin, "PUT", "/a?b=c", {"x-ms-version": "1"}, None)
    assert put == (
        b"PUT /a?b=c HTTP/1.1\r\nHost: 127.0.0.1:10001\r\nUser-Agent: durable-ext\r\n"
        b"x-ms-version: 1\r\nContent-Length: 0\r\n\r\n"
    )
    assert request_bytes(origin, "GET", "/", {}, None).endswith(b"durable-ext\r\n\r\n")
    assert request_bytes(origin, "POST", "/", {}, b"xyz").endswith(b"Content-Length: 3\r\n\r\nxyz")


async def test_answers_are_read_and_the_connection_is_kept() -> None:
    server = Server([OK, b"HTTP/1.1 204 No Content\r\n\r\n", OK])
    connections = pool()
    async with serving(server) as origin:
        first = await connections.request(origin, "GET", "/acc/x", {"Accept": "a"}, None)
        second = await connections.request(origin, "DELETE", "/acc/x", {}, None)
        third = await connections.request(origin, "POST", "/acc/x", {}, b"body")
        connections.close()
    assert (first.status, first.reason, first.body) == (200, "OK", b"hello")
    assert first.headers.getall("x-ms-a") == ["1", "2"] and first.headers["CONTENT-LENGTH"] == "5"
    assert (second.status, second.body, third.body) == (204, b"", b"hello")
    assert server.connections == 1
    assert server.requests[2].endswith(b"Content-Length: 4\r\n\r\nbody")


async def test_chunked_interim_and_to_the_end_bodies() -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\n|HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhel|lo\r\n6\r\n world\r|\n0\r\nTrailer: x\r\n|\r\n"
    )
    server = Server([chunked, b"HTTP/1.1 200 OK\r\n\r\nall| of it"])
    connections = pool()
    async with serving(server) as origin:
        first = await connections.request(origin, "GET", "/", {}, None)
        second = await connections.request(origin, "GET", "/", {}, None)
        connections_made = server.connections
    assert first.body == b"hello world"
    assert second.body == b"all of it"  # no length: read to the end, and the connection is not kept
    assert connections_made == 1


async def test_connection_close_and_idle_connections_are_not_reused() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    server = Server([closing, OK, OK, OK])
    connections = pool(idle_s=2.0)
    async with serving(server) as origin:
        await connections.request(origin, "GET", "/", {}, None)
        await connections.request(origin, "GET", "/", {}, None)
        assert server.connections == 2
        await connections.request(origin, "GET", "/", {}, None)
        assert server.connections == 2
        await asyncio.sleep(2.5)  # idle longer than idle_s: not reused
        await connections.request(origin, "GET", "/", {}, None)
        assert server.connections == 3


async def test_a_connection_the_server_closed_is_dropped_from_the_pool() -> None:
    server = Server([OK], close_after=True)
    connections = pool()
    async with serving(server) as origin:
        await connections.request(origin, "GET", "/", {}, None)
        await asyncio.sleep(0.1)
        server.answers.append(OK)
        await connections.request(origin, "GET", "/", {}, None)
    assert server.connections == 2


@pytest.mark.parametrize(("method", "tries"), [("GET", 2), ("PUT", 2), ("POST", 1), ("PATCH", 1)])
async def test_an_idempotent_request_is_sent_again_once_when_the_connection_broke(
    method: str, tries: int
) -> None:
    server = Server([b"HANG UP", b"HANG UP", OK])
    connections = pool()
    async with serving(server) as origin:
        with pytest.raises(Disconnected) as caught:
            await connections.request(origin, method, "/", {}, b"x")
    assert len(server.requests) == tries
    assert isinstance(transport_error(caught.value), ServiceRequestError)


async def test_read_timeout_counts_from_the_last_bytes() -> None:
    slow = b"HTTP/1.1 200 OK\r\n|Content-Length: 2\r\n\r\n|a|b"
    server = Server([slow, b"SILENCE"])
    connections = pool(read_timeout_s=0.3)
    async with serving(server) as origin:
        assert (await connections.request(origin, "GET", "/", {}, None)).body == b"ab"
        with pytest.raises(ReadTimedOut) as caught:
            await connections.request(origin, "GET", "/", {}, None)
    error = transport_error(caught.value)
    assert isinstance(error, ServiceResponseTimeoutError) and classify(error).kind == "timeout"


async def test_faults_map_to_the_sdk_transports_exceptions() -> None:
    truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    garbage = b"SMTP ready\r\n\r\n"
    server = Server([truncated, garbage], close_after=True)
    connections = pool()
    async with serving(server) as origin:
        with pytest.raises(IncompleteBody) as incomplete:
            await connections.request(origin, "POST", "/", {}, b"")
        with pytest.raises(MalformedAnswer) as malformed:
            await connections.request(origin, "POST", "/", {}, b"")
    assert isinstance(transport_error(incomplete.value), IncompleteReadError)
    assert isinstance(transport_error(malformed.value), ServiceResponseError)

    closed = Origin.split(f"http://127.0.0.1:{free_port()}")[0]
    with pytest.raises(ConnectFailed) as refused:
        await connections.request(closed, "GET", "/", {}, None)
    assert isinstance(refused.value.__cause__, ConnectionRefusedError)
    error = transport_error(refused.value)
    assert isinstance(error, ServiceRequestError) and not isinstance(error, ServiceRequestTimeoutError)
    assert classify(error).kind == "refused"


async def test_a_cancelled_request_does_not_leave_its_connection_for_reuse() -> None:
    server = Server([b"SILENCE", OK])
    connections = pool()
    async with serving(server) as origin:
        task = asyncio.create_task(connections.request(origin, "GET", "/", {}, None))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await connections.request(origin, "GET", "/", {}, None)).body == b"hello"
    assert server.connections == 2
