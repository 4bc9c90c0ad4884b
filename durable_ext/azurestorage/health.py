"""Whether the storage account answers: seen on every request the Azure clients send.

Each client's transport, and the lean request path (``lean_http``), reports the outcome of every
attempt (retries included) to one :class:`StorageHealth` per account: a response means storage is
reachable (a 403 that says the credentials are wrong is an authentication failure, which no retry
fixes), an exception is a fault classified as refused, DNS, timeout or other. The HTTP layer and
the health routes read it without calling storage, so they answer at once whatever storage does.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from typing import Any

import aiohttp
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.pipeline.transport import AioHttpTransport

from ..core.health import FAULT_KINDS, StorageFault, StorageHealth, first_line

__all__ = ["FAULT_KINDS", "StorageFault", "StorageHealth", "first_line"]

IDLE_CONNECTION_S = 4.0
"""How long an idle connection to storage is kept for reuse: less than the servers keep it open."""
AUTH_ERROR_CODES = frozenset({"AuthenticationFailed", "AuthorizationFailure", "InvalidAuthenticationInfo"})


def classify(exc: BaseException) -> StorageFault:
    """What kind of fault ``exc`` (or an exception it was raised from) is, in words a user can act on."""
    for cause in _chain(exc):
        if isinstance(cause, ClientAuthenticationError) or (
            isinstance(cause, HttpResponseError) and cause.status_code == 403
        ):
            return StorageFault("auth", first_line(cause))
        if isinstance(cause, ConnectionRefusedError):
            return StorageFault("refused", "connection refused")
        if isinstance(cause, socket.gaierror):
            return StorageFault("dns", f"the host name does not resolve ({cause.strerror or cause})")
        if isinstance(cause, TimeoutError | asyncio.TimeoutError):
            return StorageFault("timeout", "no answer in time")
    text = " ".join(first_line(cause) for cause in _chain(exc)).lower()
    for needle, kind in (
        ("connection refused", "refused"),
        ("name or service not known", "dns"),
        ("nodename nor servname", "dns"),
        ("temporary failure in name resolution", "dns"),
        ("timeout", "timeout"),
        ("timed out", "timeout"),
    ):
        if needle in text:
            return StorageFault(kind, first_line(exc))
    return StorageFault("error", f"{type(exc).__name__}: {first_line(exc)}")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        inner = getattr(current, "inner_exception", None)
        current = current.__cause__ or current.__context__ or inner
    return seen


_ACCOUNTS: dict[tuple[str, str], StorageHealth] = {}


def health_of_account(endpoint: str, setting: str) -> StorageHealth:
    """The one :class:`StorageHealth` of an account in this process, whichever clients talk to it."""
    key = (endpoint, setting)
    found = _ACCOUNTS.get(key)
    if found is None:
        found = _ACCOUNTS[key] = StorageHealth(endpoint, setting)
    return found


def is_outage(exc: BaseException) -> bool:
    """True for faults of reaching storage at all, which the storage watch reports once an interval."""
    return classify(exc).kind in ("refused", "dns", "timeout")


def _auth_code(status: int, headers: Mapping[str, str]) -> str | None:
    if status != 403:
        return None
    code = headers.get("x-ms-error-code")
    return code if code in AUTH_ERROR_CODES else (code or "AuthenticationFailed")


class HealthReportingTransport(AioHttpTransport):
    """The Azure clients' aiohttp transport, telling :class:`StorageHealth` how each request went."""

    session: aiohttp.ClientSession | None

    def __init__(self, health: StorageHealth, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.health = health

    async def open(self) -> None:
        if self.session is None and self._session_owner:  # the SDK's own session, but idle
            # connections are dropped before the server drops them (Azurite closes them after 5 s;
            # reusing one it closed fails the request, and every retry may pick another such one)
            self.session = aiohttp.ClientSession(
                trust_env=self._use_env_settings,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_S),
            )
        await super().open()

    async def send(self, request: Any, **config: Any) -> Any:
        try:
            response = await super().send(request, **config)
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.health.failed(classify(exc))
            raise
        report_answer(self.health, response.status_code, response.headers, response.reason)
        return response


def report_answer(health: StorageHealth, status: int, headers: Mapping[str, str], reason: str | None) -> None:
    """Tell ``health`` how storage answered one request."""
    code = _auth_code(status, headers)
    if code is not None:
        health.failed(StorageFault("auth", f"403 {code}"))
    elif status >= 500:
        error = headers.get("x-ms-error-code") or reason
        health.failed(StorageFault("error", f"{status} {error}"))
    else:
        health.succeeded()
