"""One async client per storage service per process, and the translation of storage errors."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from ..errors import ConfigurationError, StorageError, TransientStorageError
from .connection import connection_string_parts, expand_connection_string
from .health import HealthReportingTransport, StorageHealth, first_line, health_of_account, is_outage
from .lean_http import LeanStorage, attach
from .operation_counter import OperationCounter
from .shared_key import SharedKey

log = logging.getLogger("durable_ext.storage")
T = TypeVar("T")


@dataclass(frozen=True)
class StorageTimeouts:
    """How long one storage request may take, and how long the SDK retries it by itself."""

    connect_timeout_s: float = 2.0
    """Opening a connection (refused and unreachable endpoints fail fast)."""
    read_timeout_s: float = 10.0
    """Waiting for the next bytes of an answer."""
    attempts: int = 3
    """Tries of one request inside the Azure SDK (our own retries of whole operations come on top)."""


@dataclass
class StorageClients:
    """The queue, table and blob service clients of one storage account."""

    queues: QueueServiceClient
    tables: TableServiceClient
    blobs: BlobServiceClient
    operations: OperationCounter
    health: StorageHealth
    lean: LeanStorage | None = None
    """The lean request path of the hot queue and table calls (``None``: the SDK path only)."""

    @classmethod
    def from_connection_string(
        cls, connection_string: str, setting_name: str = "", timeouts: StorageTimeouts | None = None
    ) -> StorageClients:
        conn = expand_connection_string(connection_string)
        where = f" in app setting '{setting_name}'" if setting_name else ""
        check_account_key(conn, where)
        t = timeouts or StorageTimeouts()
        transport: dict[str, Any] = {
            "connection_timeout": t.connect_timeout_s,
            "read_timeout": t.read_timeout_s,
            # with proxy settings off, aiohttp stops reading ~/.netrc and the proxy variables in a
            # thread on every request (a fifth of the host's CPU under load); on when a proxy is set
            "use_env_settings": proxy_configured(),
        }
        # the SDKs' own back-off, about a second between tries (the storage SDKs' default starts at
        # 15 s): a request that cannot succeed fails in seconds, and our callers decide what is next
        storage_retry = {
            "retry_total": t.attempts - 1,
            "initial_backoff": 0,
            "increment_base": 1,
            "random_jitter_range": 0.2,
        }
        table_retry = {"retry_total": t.attempts - 1, "retry_backoff_factor": 0.5, "retry_backoff_max": 1}
        counter = OperationCounter()
        health = health_of_account(_endpoint_of(conn), setting_name or "AzureWebJobsStorage")

        def options(service: str, retry: dict[str, Any]) -> dict[str, Any]:
            return {
                "transport": HealthReportingTransport(health, **transport),
                "raw_request_hook": counter.hook(service),
                **transport,
                **retry,
            }

        try:
            clients = cls(
                queues=QueueServiceClient.from_connection_string(conn, **options("queue", storage_retry)),
                tables=TableServiceClient.from_connection_string(conn, **options("table", table_retry)),
                blobs=BlobServiceClient.from_connection_string(conn, **options("blob", storage_retry)),
                operations=counter,
                health=health,
            )
        except (ValueError, AzureError) as exc:
            raise ConfigurationError(
                f"The storage connection string{where} is not valid: {exc}. Use an Azure Storage "
                "connection string or UseDevelopmentStorage=true."
            ) from exc
        key = lean_key(conn)
        if key is not None:
            clients.lean = LeanStorage(
                key, counter, health, t.connect_timeout_s, t.read_timeout_s, t.attempts
            )
            attach(clients.queues.credential, clients.lean)
            attach(clients.tables.credential, clients.lean)
        return clients

    async def close(self) -> None:
        closing = [self.queues.close(), self.tables.close(), self.blobs.close()]
        if self.lean is not None:
            closing.append(self.lean.close())
        await asyncio.gather(*closing)


def lean_key(connection_string: str) -> SharedKey | None:
    """The key of the lean request path (``lean_http``), or ``None`` where only the SDK path serves:
    no account key (SAS), a proxy, or an endpoint that is not plain HTTP(S)."""
    parts = connection_string_parts(connection_string)
    name, key = parts.get("accountname"), parts.get("accountkey")
    if not name or not key or parts.get("sharedaccesssignature") or proxy_configured():
        return None
    endpoints = [parts.get(f"{service}endpoint") for service in ("queue", "table")]
    if any(e and not e.lower().startswith(("http://", "https://")) for e in endpoints):
        return None
    return SharedKey(name, key)


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def proxy_configured() -> bool:
    return any(os.environ.get(name) or os.environ.get(name.lower()) for name in PROXY_VARIABLES)


def check_account_key(connection_string: str, where: str) -> None:
    """Refuse an ``AccountKey`` that is not base64 before any request is signed with it."""
    key = connection_string_parts(connection_string).get("accountkey")
    if key is None:
        return
    try:
        base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError(
            f"The AccountKey of the storage connection string{where} is not valid base64 ({exc}). "
            "Copy the key again from the storage account's Access keys, whole and unquoted."
        ) from exc


def _endpoint_of(connection_string: str) -> str:
    parts = connection_string_parts(connection_string)
    explicit = parts.get("queueendpoint") or parts.get("blobendpoint") or parts.get("tableendpoint")
    if explicit:
        return explicit.rstrip("/")
    account = parts.get("accountname", "?")
    scheme = parts.get("defaultendpointsprotocol", "https")
    suffix = parts.get("endpointsuffix", "core.windows.net")
    return f"{scheme}://{account}.queue.{suffix}"


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientAuthenticationError):
        return False  # a key that does not sign, or credentials the account refuses
    if isinstance(exc, ServiceRequestError | ServiceResponseError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, HttpResponseError):
        return exc.status_code is None or exc.status_code >= 500 or exc.status_code in (408, 429)
    return isinstance(exc, TransientStorageError)


@asynccontextmanager
async def translated(what: str) -> AsyncIterator[None]:
    """Turn Azure SDK errors raised inside into durable-ext storage errors naming ``what``."""
    try:
        yield
    except (StorageError, asyncio.CancelledError):
        raise
    except (AzureError, OSError, TimeoutError) as exc:
        cls = TransientStorageError if is_transient(exc) else StorageError
        raise cls(f"{what} failed: {type(exc).__name__}: {first_line(exc, '')}") from exc


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    what: str,
    *,
    attempts: int = 8,
    first_delay_s: float = 0.2,
    max_delay_s: float = 10.0,
) -> T:
    """Run ``operation``, retrying transient storage faults with exponential back-off."""
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except Exception as exc:
            if not is_transient(exc) or attempt == attempts:
                raise
            log.log(
                logging.DEBUG if is_outage(exc) else logging.WARNING,  # the storage watch says it once
                "%s failed (attempt %d of %d), retrying in %.1f s: %s",
                what,
                attempt,
                attempts,
                delay,
                exc,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
    raise AssertionError("unreachable")
