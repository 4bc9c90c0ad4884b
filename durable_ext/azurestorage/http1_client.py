"""A small HTTP/1.1 client for the lean request path: keep-alive connections on asyncio protocols.

A request is written as one buffer (request line, headers and body built once); the answer's status
line and headers are parsed by hand and its body read by ``Content-Length``, ``chunked`` encoding or
to the end of the connection. Connections are kept per origin and reused newest first; one idle for
``idle_s`` or more is closed instead of reused (the servers close idle ones a little later, and a
request on a connection the server just closed fails). At most ``CONNECTION_LIMIT`` requests are in
flight per pool, as on aiohttp's default connector.

What aiohttp does that callers rely on is kept: the connect timeout, the read timeout (the longest
wait for the next bytes of an answer), and one immediate second try of an idempotent request whose
connection broke before its answer began. Faults are the :class:`HttpFault` subclasses below, each
raised from the ``OSError`` behind it if there is one; ``lean_http`` maps them to the exceptions the
SDKs' aiohttp transport raises.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from multidict import CIMultiDict

CONNECTION_LIMIT = 100
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_MAX_HEAD_BYTES = 64 * 1024
_USER_AGENT = "durable-ext"


class HttpFault(Exception):
    """A request that got no whole answer."""


class ConnectFailed(HttpFault):
    """No connection could be made: the request never left."""


class ConnectTimedOut(HttpFault, TimeoutError):
    """Connecting took longer than the connect timeout."""


class Disconnected(HttpFault):
    """The connection closed or broke before the answer's head arrived."""


class IncompleteBody(HttpFault):
    """The connection ended inside the answer's body."""


class ReadTimedOut(HttpFault, TimeoutError):
    """No bytes of the answer came for the read timeout."""


class MalformedAnswer(HttpFault):
    """What came back is not an HTTP/1.x answer."""


@dataclass(frozen=True)
class Origin:
    """Where requests go: scheme, host and port."""

    tls: bool
    host: str
    port: int
    host_header: str

    @classmethod
    def split(cls, url: str) -> tuple[Origin, str]:
        """The origin of ``url`` and its path (no trailing slash)."""
        parts = urlsplit(url)
        tls = parts.scheme.lower() == "https"
        host = parts.hostname or ""
        default = 443 if tls else 80
        port = parts.port or default
        shown = f"[{host}]" if ":" in host else host
        host_header = shown if port == default else f"{shown}:{port}"
        return cls(tls, host, port, host_header), parts.path.rstrip("/")


@dataclass
class Response:
    """An answer read whole."""

    status: int
    reason: str
    headers: CIMultiDict[str]
    body: bytes


def request_bytes(
    origin: Origin, method: str, target: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    """The request as written on the wire (``Content-Length`` added; ``Host`` and ``User-Agent`` too)."""
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {origin.host_header}\r\nUser-Agent: {_USER_AGENT}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        return "".join(lines).encode() + body
    lines.append("Content-Length: 0\r\n\r\n" if method in _BODY_METHODS else "\r\n")
    return "".join(lines).encode()


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self, pool: ConnectionPool, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.generation = pool.generation
        self.origin = origin
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[Response, bool]] | None = None
        self._head: tuple[int, str, CIMultiDict[str], bool, int] | None = None
        self._no_body = False
        self._chunks: list[bytes] = []
        self._trailer = False
        self._last_data = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: the connection is not in a known state
            return
        self._last_data = self.loop.time()
        self._buffer += data
        try:
            answer = self._parse(eof=False)
        except HttpFault as exc:
            self._fail(exc)
            return
        if answer is not None:
            waiter.set_result(answer)

    def eof_received(self) -> bool:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            try:
                answer = self._parse(eof=True)
            except HttpFault as exc:
                self._fail(exc)
            else:
                if answer is not None:
                    waiter.set_result(answer)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if self._head is None:
                fault: HttpFault = Disconnected(f"Server disconnected{f': {exc}' if exc else ''}")
            else:
                fault = IncompleteBody(f"The connection ended inside the answer{f': {exc}' if exc else ''}")
            fault.__cause__ = exc
            waiter.set_exception(fault)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, method: str, data: bytes, read_timeout_s: float) -> tuple[Response, bool]:
        """Write ``data`` and read the answer; with it, whether the connection can be reused."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise Disconnected("Server disconnected")
        self._buffer.clear()
        self._head = None
        self._no_body = method == "HEAD"
        self._chunks = []
        self._trailer = False
        waiter = self._waiter = self.loop.create_future()
        self.transport.write(data)
        self._last_data = self.loop.time()
        self._timer = self.loop.call_at(self._last_data + read_timeout_s, self._check, read_timeout_s)
        try:
            return await waiter
        finally:
            self._timer.cancel()
            self._waiter = None

    def _check(self, read_timeout_s: float) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        due = self._last_data + read_timeout_s
        if self.loop.time() < due:
            self._timer = self.loop.call_at(due, self._check, read_timeout_s)
            return
        self._fail(ReadTimedOut("Timeout on reading data from socket"))

    def _fail(self, fault: HttpFault) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(fault)
        self.close()

    def _parse(self, eof: bool) -> tuple[Response, bool] | None:
        buffer = self._buffer
        while self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD_BYTES:
                    raise MalformedAnswer("The answer's head is too long")
                if eof:
                    raise Disconnected("Server disconnected")
                return None
            head = bytes(buffer[:end]).decode("latin-1")
            del buffer[: end + 4]
            self._head = self._read_head(head)
        status, reason, headers, keep_alive, length = self._head
        if length >= 0:
            if len(buffer) < length:
                if eof:
                    raise IncompleteBody("The connection ended inside the answer")
                return None
            body = bytes(buffer[:length])
            del buffer[:length]
        elif length == -1:
            chunked = self._chunked()
            if chunked is None:
                if eof:
                    raise IncompleteBody("The connection ended inside the answer")
                return None
            body = chunked
        else:
            if not eof:
                return None
            body = bytes(buffer)
            buffer.clear()
        return Response(status, reason, headers, body), keep_alive and not buffer

    def _read_head(self, head: str) -> tuple[int, str, CIMultiDict[str], bool, int] | None:
        """The status, reason, headers, keep-alive and body length (-1 chunked, -2 to the end) of a
        head; ``None`` for an interim (1xx) answer, which is skipped."""
        lines = head.split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise MalformedAnswer(f"Not an HTTP answer: {lines[0][:80]!r}")
        status = int(code)
        headers: CIMultiDict[str] = CIMultiDict()
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name[-1] in " \t":
                raise MalformedAnswer(f"Malformed answer header: {line[:80]!r}")
            headers.add(name, value.strip(" \t"))
        if 100 <= status < 200 and status != 101:
            return None
        connection = headers.get("Connection", "").lower()
        keep_alive = version == "HTTP/1.1" and "close" not in connection
        if self._no_body or status in (204, 304) or 100 <= status < 200:
            return status, reason, headers, keep_alive, 0
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return status, reason, headers, keep_alive, -1
        length = headers.get("Content-Length")
        if length is None:
            return status, reason, headers, False, -2
        try:
            size = int(length)
        except ValueError:
            raise MalformedAnswer(f"Malformed Content-Length: {length[:40]!r}") from None
        if size < 0:
            raise MalformedAnswer(f"Malformed Content-Length: {length[:40]!r}")
        return status, reason, headers, keep_alive, size

    def _chunked(self) -> bytes | None:
        """The body once its last chunk and trailer arrived, else ``None`` (what arrived is kept)."""
        buffer = self._buffer
        while True:
            end = buffer.find(b"\r\n")
            if end < 0:
                return None
            if self._trailer:
                del buffer[: end + 2]
                if end == 0:
                    return b"".join(self._chunks)
                continue
            try:
                size = int(bytes(buffer[:end]).split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise MalformedAnswer("Malformed chunk size") from None
            if size == 0:
                del buffer[: end + 2]
                self._trailer = True
                continue
            stop = end + 2 + size
            if len(buffer) < stop + 2:
                return None
            if buffer[stop : stop + 2] != b"\r\n":
                raise MalformedAnswer("Malformed chunk")
            self._chunks.append(bytes(buffer[end + 2 : stop]))
            del buffer[: stop + 2]


class ConnectionPool:
    """Keep-alive connections to any number of origins, with the timeouts of every request."""

    def __init__(
        self, connect_timeout_s: float, read_timeout_s: float, idle_s: float, limit: int = CONNECTION_LIMIT
    ) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.idle_s = idle_s
        self.limit = limit
        self._idle: dict[Origin, list[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._ssl: ssl.SSLContext | None = None
        self.generation = 0
        """Counts :meth:`close` calls: a connection opened before the last one is not kept."""

    async def request(
        self, origin: Origin, method: str, target: str, headers: Mapping[str, str], body: bytes | None
    ) -> Response:
        """Send one request and read its answer whole."""
        data = request_bytes(origin, method, target, headers, body)
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        again = method in IDEMPOTENT_METHODS
        async with self._slots:
            while True:
                connection = self._reused(origin) or await self._connect(origin)
                try:
                    response, reusable = await connection.exchange(method, data, self.read_timeout_s)
                except Disconnected:
                    connection.close()
                    if not again:
                        raise
                    again = False
                    continue
                except BaseException:
                    connection.close()
                    raise
                if reusable and not connection.closed and connection.generation == self.generation:
                    connection.idle_since = connection.loop.time()
                    self._idle.setdefault(origin, []).append(connection)
                else:
                    connection.close()
                return response

    def _reused(self, origin: Origin) -> _Connection | None:
        """The connection to ``origin`` used last, unless it has been idle too long (and so, then, have
        all the others)."""
        idle = self._idle.get(origin)
        if not idle:
            return None
        connection = idle.pop()
        if connection.closed or connection.loop.time() - connection.idle_since >= self.idle_s:
            for stale in (connection, *idle):
                stale.close()
            idle.clear()
            return None
        return connection

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        connection = _Connection(self, origin, loop)
        context = self._context() if origin.tls else None
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                await loop.create_connection(lambda: connection, origin.host, origin.port, ssl=context)
        except TimeoutError as exc:
            raise ConnectTimedOut(f"Connection timeout to host {origin.host}:{origin.port}") from exc
        except OSError as exc:
            shown = "default" if origin.tls else "False"
            raise ConnectFailed(
                f"Cannot connect to host {origin.host}:{origin.port} ssl:{shown} [{exc.strerror or exc}]"
            ) from exc
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _forget(self, connection: _Connection) -> None:
        idle = self._idle.get(connection.origin)
        if idle and connection in idle:
            idle.remove(connection)

    def close(self) -> None:
        """Close the idle connections (the pool opens new ones if used again)."""
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._slots = None
        self.generation += 1
