"""The app lease: workers of one app share a task hub, a second app waits and says why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest

from durable_ext.azurestorage.app_lease import AppLeaseOptions, app_lease_id
from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings

FAST = AppLeaseOptions(lease_s=15, renew_interval_s=2.0, acquire_interval_s=0.5)


async def eventually(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, f"{what} did not happen in {timeout_s} s"
        await asyncio.sleep(0.1)


@pytest.fixture
async def services(
    connection_string: str, hub_name: str
) -> AsyncIterator[Callable[[str], AzureStorageOrchestrationService]]:
    started: list[AzureStorageOrchestrationService] = []

    def make(app_name: str) -> AzureStorageOrchestrationService:
        settings = AzureStorageSettings(
            hub_name=hub_name, connection_string=connection_string, app_name=app_name, app_lease=FAST
        )
        service = AzureStorageOrchestrationService(settings)
        started.append(service)
        return service

    yield make
    for service in started:
        await service.stop()
        await service.close()


def test_lease_ids_follow_the_reference_format() -> None:
    assert app_lease_id("my-app") == f"{app_lease_id('my-app')[:8]}-0000-0000-0000-000000000000"
    assert app_lease_id("my-app") != app_lease_id("other-app")


async def test_workers_of_one_app_share_the_hub(
    services: Callable[[str], AzureStorageOrchestrationService],
) -> None:
    first, second = services("shop"), services("shop")
    await first.start()
    await second.start()
    await eventually(lambda: first.app_lease.held and second.app_lease.held, 10, "both holding the app lease")
    await eventually(
        lambda: (
            len(first.partitions.owned) + len(second.partitions.owned) == 4
            and first.partitions.owned.keys().isdisjoint(second.partitions.owned)
        ),
        40,
        "the partitions split between the two workers",
    )


async def test_a_second_app_waits_and_takes_over_when_the_first_stops(
    services: Callable[[str], AzureStorageOrchestrationService], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="durable_ext.app_lease")
    shop, other = services("shop"), services("intruder")
    await shop.start()
    await eventually(lambda: len(shop.partitions.owned) == 4, 10, "the first app owning every partition")
    await other.start()
    await eventually(lambda: "leased by another app" in caplog.text, 10, "the second app saying why it waits")
    assert app_lease_id("shop") in caplog.text
    assert not other.app_lease.held and not other.partitions.owned
    await shop.stop()  # its lease is left to expire (other workers of its app may still hold it)
    await eventually(lambda: len(other.partitions.owned) == 4, 40, "the second app taking over")
