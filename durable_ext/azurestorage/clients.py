"""One async client per storage service per process, and the translation of storage errors."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from ..errors import ConfigurationError, StorageError, TransientStorageError
from .connection import expand_connection_string
from .operation_counter import OperationCounter

log = logging.getLogger("durable_ext.storage")
T = TypeVar("T")


@dataclass
class StorageClients:
    """The queue, table and blob service clients of one storage account."""

    queues: QueueServiceClient
    tables: TableServiceClient
    blobs: BlobServiceClient
    operations: OperationCounter

    @classmethod
    def from_connection_string(cls, connection_string: str, setting_name: str = "") -> StorageClients:
        conn = expand_connection_string(connection_string)
        options: dict[str, Any] = {
            "retry_total": 3,
            "retry_backoff_factor": 0.4,
            "connection_timeout": 10,
            # with proxy settings off, aiohttp stops reading ~/.netrc and the proxy variables in a
            # thread on every request (a fifth of the host's CPU under load); on when a proxy is set
            "use_env_settings": proxy_configured(),
        }
        counter = OperationCounter()
        try:
            return cls(
                queues=QueueServiceClient.from_connection_string(
                    conn, raw_request_hook=counter.hook("queue"), **options
                ),
                tables=TableServiceClient.from_connection_string(
                    conn, raw_request_hook=counter.hook("table"), **options
                ),
                blobs=BlobServiceClient.from_connection_string(
                    conn, raw_request_hook=counter.hook("blob"), **options
                ),
                operations=counter,
            )
        except (ValueError, AzureError) as exc:
            where = f" in app setting '{setting_name}'" if setting_name else ""
            raise ConfigurationError(
                f"The storage connection string{where} is not valid: {exc}. Use an Azure Storage "
                "connection string or UseDevelopmentStorage=true."
            ) from exc

    async def close(self) -> None:
        await asyncio.gather(self.queues.close(), self.tables.close(), self.blobs.close())


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def proxy_configured() -> bool:
    return any(os.environ.get(name) or os.environ.get(name.lower()) for name in PROXY_VARIABLES)


def is_transient(exc: BaseException) -> bool:
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
        raise cls(f"{what} failed: {type(exc).__name__}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


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
            log.warning(
                "%s failed (attempt %d of %d), retrying in %.1f s: %s", what, attempt, attempts, delay, exc
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
    raise AssertionError("unreachable")
