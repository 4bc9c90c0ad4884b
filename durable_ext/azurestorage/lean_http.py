"""The lean request path: hot storage requests sent on a small HTTP/1.1 client, signed with Shared Key.

Through the Azure SDKs' pipelines a request costs about three times the CPU of the HTTP exchange
itself (policies, header building, tracing hooks, request ids, model (de)serialization), and a
general HTTP client (aiohttp) is most of what is left. This path sends the same requests on
``http1_client`` with the SDK transport's settings (connect and read timeouts, no proxy variables,
no cookies, idle connections dropped after ``IDLE_CONNECTION_S``, one second try of an idempotent
request whose connection broke before the answer, as aiohttp does), and keeps what callers see:
each attempt counted in the :class:`OperationCounter` (watchers run first) and reported to the
account's :class:`StorageHealth`, the SDK's retries of the service (:class:`Retries`), and transport
faults raised as the SDK's aiohttp transport raises them. Answers are read by ``lean_queue`` and
``lean_table``.

It is used only for a connection string with an account key and no proxy (``LeanStorage.eligible``);
SAS, token credentials and proxies keep the SDK path.
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import (
    IncompleteReadError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from multidict import CIMultiDict

from .health import IDLE_CONNECTION_S, StorageHealth, classify, report_answer
from .http1_client import (
    ConnectionPool,
    ConnectTimedOut,
    HttpFault,
    IncompleteBody,
    MalformedAnswer,
    Origin,
    ReadTimedOut,
)
from .operation_counter import OperationCounter
from .shared_key import SharedKey

Sign = Callable[[dict[str, str]], None]
"""Sets the date and ``Authorization`` headers of one attempt."""

_PATH_SAFE = "!$&'()*,:;=@"
_QUERY_SAFE = "!$'()*,/:?@"
_RETRY_AFTER_MS = ("retry-after-ms", "x-ms-retry-after-ms")
_CORE_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_CORE_RETRY_METHODS = frozenset({"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE"})


def path_segment(text: str) -> str:
    """``text`` percent-encoded for a URL path, as the requests of this path have always been sent."""
    return quote(text, safe=_PATH_SAFE)


def query_string(parameters: Iterable[tuple[str, str]]) -> str:
    """``name=value&...`` with the values percent-encoded as the requests of this path have always been."""
    return "&".join(f"{name}={quote(value, safe=_QUERY_SAFE)}" for name, value in parameters)


@dataclass(frozen=True)
class Retries:
    """The retries of one service's SDK, as :class:`StorageClients` configures them.

    ``storage`` (the queue and blob SDKs' ``ExponentialRetry``): any fault, 408 and 5xx but 501/505,
    after ``initial + base ** n`` seconds, randomised by ``jitter``. Otherwise azure-core's
    ``RetryPolicy`` (the tables SDK): 408/429/500/502/503/504/5xx over 505 or any answer with
    ``Retry-After``; POST and PATCH only on 500/503/504 and never after a fault; the first retry at
    once, then ``factor * 2 ** (n - 1)`` seconds up to ``max_s`` (or what ``Retry-After`` says).
    """

    attempts: int
    storage: bool
    initial_s: float = 0.0
    base: float = 1.0
    jitter_s: float = 0.2
    factor: float = 0.5
    max_s: float = 1.0

    def after_status(self, method: str, status: int, headers: Mapping[str, str]) -> bool:
        if self.storage:
            return status == 408 or (status >= 500 and status not in (501, 505))
        if status < 400:
            return False
        if headers.get("Retry-After") or any(headers.get(name) for name in _RETRY_AFTER_MS):
            return True
        if method in ("POST", "PATCH"):
            return status in (500, 503, 504)
        return method in _CORE_RETRY_METHODS and (status in _CORE_RETRY_STATUSES or status > 505)

    def after_fault(self, method: str) -> bool:
        return self.storage or method in _CORE_RETRY_METHODS

    def delay_s(self, retry: int, headers: Mapping[str, str] | None) -> float:
        """How long to wait before retry number ``retry`` (1 for the first)."""
        if self.storage:
            backoff = self.initial_s + self.base**retry
            low = backoff - self.jitter_s if backoff > self.jitter_s else 0
            return random.uniform(low, backoff + self.jitter_s)
        after = _retry_after_s(headers) if headers is not None else None
        if after is not None:
            return after
        return 0.0 if retry <= 1 else min(self.max_s, self.factor * 2 ** (retry - 1))


def _retry_after_s(headers: Mapping[str, str]) -> float | None:
    for name in _RETRY_AFTER_MS:
        value = headers.get(name)
        if value:
            try:
                return float(value) / 1000
            except ValueError:
                pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            delay = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
        return max(0.0, delay)


def transport_error(exc: BaseException) -> BaseException:
    """The exception the SDK's aiohttp transport raises for the aiohttp fault that matches ``exc``
    (others are raised as they are)."""
    if isinstance(exc, IncompleteBody):
        return IncompleteReadError(exc, error=exc)
    if isinstance(exc, MalformedAnswer):
        return ServiceResponseError(exc, error=exc)
    if isinstance(exc, ConnectTimedOut):
        return ServiceRequestTimeoutError(exc, error=exc)
    if isinstance(exc, ReadTimedOut | asyncio.TimeoutError):
        return ServiceResponseTimeoutError(exc, error=exc)
    if isinstance(exc, HttpFault):
        return ServiceRequestError(exc, error=exc)
    return exc


@dataclass
class Answer:
    """A response read whole."""

    status: int
    reason: str
    headers: CIMultiDict[str]
    body: bytes
    url: str


class LeanStorage:
    """One account's lean request path: its connections, key, counter, health and timeouts."""

    def __init__(
        self,
        key: SharedKey,
        counter: OperationCounter,
        health: StorageHealth,
        connect_timeout_s: float,
        read_timeout_s: float,
        attempts: int,
    ) -> None:
        self.key = key
        self.counter = counter
        self.health = health
        self.queue_retries = Retries(attempts, storage=True)
        self.table_retries = Retries(attempts, storage=False)
        self.pool = ConnectionPool(connect_timeout_s, read_timeout_s, IDLE_CONNECTION_S)

    async def close(self) -> None:
        """Close the idle connections (new ones are opened if the path is used again)."""
        self.pool.close()

    async def send(
        self,
        operation: str,
        method: str,
        origin: Origin,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
        sign: Sign,
        retries: Retries,
    ) -> Answer:
        """Send one request, retried as ``retries`` says; ``operation`` is its counter name."""
        for attempt in range(1, retries.attempts + 1):
            self.counter.count(operation)
            sign(headers)
            try:
                response = await self.pool.request(origin, method, target, headers, body)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                error = transport_error(exc)
                self.health.failed(classify(error))
                if error is exc:
                    raise
                if attempt == retries.attempts or not retries.after_fault(method):
                    raise error from exc
                await asyncio.sleep(retries.delay_s(attempt, None))
                continue
            report_answer(self.health, response.status, response.headers, response.reason)
            if attempt < retries.attempts and retries.after_status(method, response.status, response.headers):
                await asyncio.sleep(retries.delay_s(attempt, response.headers))
                continue
            url = ("https://" if origin.tls else "http://") + origin.host_header + target
            return Answer(response.status, response.reason, response.headers, response.body, url)
        raise AssertionError("unreachable")


_BY_CREDENTIAL: weakref.WeakKeyDictionary[Any, LeanStorage] = weakref.WeakKeyDictionary()


def attach(credential: Any, lean: LeanStorage) -> None:
    """Route the clients signed with ``credential`` (one :class:`StorageClients`' own) to ``lean``."""
    _BY_CREDENTIAL[credential] = lean


def lean_of(client: Any) -> LeanStorage | None:
    """The lean path of an SDK client made by :class:`StorageClients`; ``None`` for any other client."""
    credential = getattr(client, "credential", None)
    return None if credential is None else _BY_CREDENTIAL.get(credential)
