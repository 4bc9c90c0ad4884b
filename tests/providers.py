"""The task hub providers the engine's contract tests run on, and how a test builds either one.

A behaviour that must be the same on every provider is tested once: the test takes an ``engine`` (or
``hub``) fixture parametrized with :data:`every_provider`. A test that reads what only one provider
has (the Azure Storage tables and queues) says so with :func:`azure_only`: its memory case is skipped
with that reason, so the report shows what the memory provider is not checked for, and why.

The contract fixtures take the session's Azurite whichever provider they build: the Azure Storage case
of each test needs it anyway (an async fixture cannot start it on demand).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.core.clock import WALL_CLOCK, current_clock, restore_clock, use_clock
from durable_ext.core.service import TaskHubService
from durable_ext.memory.service import MemoryOrchestrationService
from durable_ext.memory.settings import MemorySettings
from durable_ext.postgres.service import PostgresOrchestrationService
from durable_ext.postgres.settings import PostgresSettings

AZURE = "azurestorage"
MEMORY = "memory"
POSTGRES = "postgres"
PROVIDERS = (AZURE, MEMORY, POSTGRES)


def every_provider(fixture: str = "engine") -> pytest.MarkDecorator:
    """Run the test once per provider, ``fixture`` built for each (``request.param`` is the provider)."""
    return pytest.mark.parametrize(fixture, PROVIDERS, indirect=True)


def azure_only(reason: str, fixture: str = "engine") -> pytest.MarkDecorator:
    """Run the test on Azure Storage; its other providers' cases are skipped, saying why."""
    skipped = pytest.mark.skip(reason=f"Azure Storage only: {reason}")
    others = [pytest.param(p, marks=skipped) for p in PROVIDERS if p != AZURE]
    return pytest.mark.parametrize(fixture, [AZURE, *others], indirect=True)


def provider_of(request: pytest.FixtureRequest) -> str:
    """The provider a fixture is built for: its parameter, Azure Storage for tests that pass none."""
    return str(getattr(request, "param", AZURE))


def azure_service(
    connection_string: str, hub_name: str, **overrides: Any
) -> AzureStorageOrchestrationService:
    options: dict[str, Any] = {"max_queue_polling_interval_s": 1.0, **overrides}
    settings = AzureStorageSettings(hub_name=hub_name, connection_string=connection_string, **options)
    return AzureStorageOrchestrationService(settings)


def memory_service(hub_name: str, **overrides: Any) -> MemoryOrchestrationService:
    return MemoryOrchestrationService(MemorySettings(hub_name=hub_name, **overrides))


def postgres_service(dsn: str, hub_name: str, **overrides: Any) -> PostgresOrchestrationService:
    options: dict[str, Any] = {"max_polling_interval_s": 1.0, **overrides}
    return PostgresOrchestrationService(PostgresSettings(hub_name=hub_name, dsn=dsn, **options))


def build_service(
    provider: str,
    connection_string: str,
    hub_name: str,
    *,
    dsn: str = "",
    azure: dict[str, Any] | None = None,
    memory: dict[str, Any] | None = None,
    postgres: dict[str, Any] | None = None,
) -> TaskHubService:
    """The service of ``hub_name`` on ``provider``, with that provider's settings overrides."""
    if provider == MEMORY:
        return memory_service(hub_name, **(memory or {}))
    if provider == POSTGRES:
        return postgres_service(dsn, hub_name, **(postgres or {}))
    return azure_service(connection_string, hub_name, **(azure or {}))


@asynccontextmanager
async def durable_time(service: TaskHubService) -> AsyncIterator[None]:
    """The service's clock as the running loop's durable time while the block runs, as the host sets
    it; the session's loop gets the wall clock back afterwards."""
    use_clock(service.clock)
    try:
        yield
    finally:
        restore_clock()
    assert current_clock() is WALL_CLOCK


@asynccontextmanager
async def started_memory_service(
    hub_name: str, **overrides: Any
) -> AsyncIterator[MemoryOrchestrationService]:
    """A started memory service with no worker (the tests take its work items themselves)."""
    service = memory_service(hub_name, **overrides)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
        await service.close()
