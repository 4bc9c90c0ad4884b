"""How storage faults are classified, what the health of an account says, and the management API's
storage budget (an aiohttp server on loopback with handlers standing in for slow or failing storage)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

from durable_ext.azurestorage.clients import check_account_key, is_transient
from durable_ext.azurestorage.health import StorageFault, StorageHealth, classify, is_outage
from durable_ext.errors import ConfigurationError, StorageError, TransientStorageError
from durable_ext.extension.http_availability import StorageBudget
from durable_ext.extension.storage_watch import StorageWatch, WorkerStarter
from durable_ext.host.logs import OutageFilter


def _raised_from(cause: BaseException, outer: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise outer from inner
    except BaseException as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (
            _raised_from(ConnectionRefusedError(111, "refused"), ServiceRequestError("Cannot connect")),
            "refused",
        ),
        (_raised_from(socket.gaierror(-2, "Name or service not known"), ServiceRequestError("x")), "dns"),
        (_raised_from(TimeoutError(), ServiceRequestError("x")), "timeout"),
        (ClientAuthenticationError("Incorrect padding"), "auth"),
        (ServiceRequestError("Connection refused by peer"), "refused"),
        (ValueError("something else"), "error"),
    ],
)
def test_faults_are_classified_through_their_causes(exc: BaseException, kind: str) -> None:
    assert classify(exc).kind == kind
    assert is_outage(exc) == (kind in ("refused", "dns", "timeout"))


def test_a_refused_credential_is_not_transient() -> None:
    assert not is_transient(ClientAuthenticationError("Incorrect padding"))
    forbidden = HttpResponseError("forbidden")
    forbidden.status_code = 403
    assert not is_transient(forbidden)
    assert is_transient(ServiceRequestError("refused"))


def test_a_key_that_is_not_base64_is_refused_before_any_request() -> None:
    with pytest.raises(
        ConfigurationError, match=r"AccountKey .* in app setting 'Storage' is not valid base64"
    ):
        check_account_key("AccountName=a;AccountKey=abc", " in app setting 'Storage'")
    check_account_key("AccountName=a;AccountKey=YWJjZA==", "")


def test_health_names_the_endpoint_the_setting_and_the_last_error() -> None:
    health = StorageHealth("http://127.0.0.1:1/devstoreaccount1", "AzureWebJobsStorage")
    assert health.reachable is None
    health.failed(StorageFault("refused", "connection refused"))
    assert health.reachable is False
    assert health.describe() == (
        "Storage at http://127.0.0.1:1/devstoreaccount1 (from the app setting 'AzureWebJobsStorage') is "
        "unavailable (refused: connection refused)"
    )
    assert "Start Azurite" in health.advice()
    assert health.snapshot()["kind"] == "refused"
    began = time.monotonic()
    health.succeeded()
    assert health.reachable is True and health.answered_since(began)
    assert health.snapshot()["lastError"] is None
    health.failed(StorageFault("auth", "403 AuthenticationFailed"))
    assert health.auth_failed and "AccountKey" in health.advice()


def test_the_outage_filter_drops_only_what_the_storage_watch_says() -> None:
    def record(level: int, *args: object) -> logging.LogRecord:
        return logging.LogRecord("durable_ext.x", level, __file__, 1, "failed: %s", args, None)

    refused = _raised_from(ConnectionRefusedError(111, "refused"), TransientStorageError("x"))
    keep = OutageFilter()
    assert not keep.filter(record(logging.WARNING, refused))
    assert not keep.filter(record(logging.ERROR, refused))
    assert keep.filter(record(logging.CRITICAL, refused))
    assert keep.filter(record(logging.WARNING, ValueError("bad input")))


def test_the_watch_says_it_every_check_while_down_and_once_when_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = StorageHealth("http://h/acct", "S")
    watch = StorageWatch(health)
    caplog.set_level(logging.INFO, "durable_ext.storage.watch")
    health.failed(StorageFault("dns", "the host name does not resolve"))
    watch.check()
    watch.check()
    health.succeeded()
    watch.check()
    watch.check()
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "is unavailable (dns" in m]) == 2
    assert len([m for m in messages if "answers again" in m]) == 1


async def test_the_starter_waits_out_storage_and_gives_up_on_a_refused_key() -> None:
    health = StorageHealth("http://h/acct", "S")
    tries: list[int] = []

    async def start() -> None:
        tries.append(1)
        if len(tries) < 3:
            raise TransientStorageError("refused")

    starter = WorkerStarter(start, StorageWatch(health), interval_s=0.01)
    await asyncio.wait_for(starter.begin(), 5)
    assert len(tries) == 3 and starter.error is None

    async def refused() -> None:
        health.failed(StorageFault("auth", "403 AuthenticationFailed"))
        raise StorageError("403")

    starter = WorkerStarter(refused, StorageWatch(health), interval_s=0.01)
    await asyncio.wait_for(starter.begin(), 5)
    assert starter.error is not None and "AccountKey" in starter.error


async def _serve(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]], budget: StorageBudget
) -> tuple[web.AppRunner, str]:
    app = web.Application(middlewares=[budget.middleware])
    app.router.add_get("/api/x", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/api/x"


async def test_the_budget_answers_503_when_storage_never_answers() -> None:
    health = StorageHealth("http://h/acct", "S")
    health.failed(StorageFault("refused", "connection refused"))

    async def stuck(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    runner, url = await _serve(stuck, StorageBudget(0.3, lambda r: health, lambda p: True))
    try:
        async with aiohttp.ClientSession() as http:
            began = time.monotonic()
            async with http.get(url) as response:
                body = await response.json()
            assert response.status == 503 and time.monotonic() - began < 5  # not the handler's 30 s
            assert int(response.headers["Retry-After"]) >= 1
            assert body["storage"]["kind"] == "refused" and "'S'" in body["Message"]
    finally:
        await runner.cleanup()


async def test_the_budget_lets_a_slow_operation_finish_while_storage_answers() -> None:
    health = StorageHealth("http://h/acct", "S")

    async def slow_but_alive(request: web.Request) -> web.Response:
        for _ in range(8):
            await asyncio.sleep(0.1)
            health.succeeded()
        return web.Response(text="done")

    async def failing(request: web.Request) -> web.Response:
        health.failed(StorageFault("timeout", "no answer in time"))
        raise TransientStorageError("Reading failed")

    runner, url = await _serve(slow_but_alive, StorageBudget(0.3, lambda r: health, lambda p: True))
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert (response.status, await response.text()) == (200, "done")
    finally:
        await runner.cleanup()
    runner, url = await _serve(failing, StorageBudget(5, lambda r: health, lambda p: True))
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 503
            assert (await response.json())["storage"]["kind"] == "timeout"
    finally:
        await runner.cleanup()
