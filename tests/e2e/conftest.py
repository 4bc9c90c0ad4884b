"""Fixtures for end-to-end tests: the host as a subprocess over the session's Azurite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
import pytest

from .hosting import REPO_ROOT, RunningHost, start_host, stop_host, wait_until_serving

APPS = REPO_ROOT / "tests" / "e2e" / "apps"


@pytest.fixture(scope="session")
async def sample_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    """The repository's own sample app, served by `durable-ext start`."""
    async for host in serve(REPO_ROOT, connection_string, tmp_path_factory):
        yield host


async def serve(
    script_root: Path,
    connection_string: str,
    tmp_path_factory: pytest.TempPathFactory,
    extra_env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    *,
    launcher: Sequence[str] = (),
    address: str = "127.0.0.1",
) -> AsyncIterator[RunningHost]:
    """`durable-ext start` on the app in ``script_root`` until the fixture using it ends."""
    log_path = tmp_path_factory.mktemp(script_root.name) / "host.log"
    host = start_host(
        script_root,
        connection_string,
        log_path,
        extra_env or {},
        extra_args,
        launcher=launcher,
        address=address,
    )
    try:
        await wait_until_serving(host)
        yield host
    finally:
        stop_host(host)


@pytest.fixture(scope="session")
async def features_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    """The test app under tests/e2e/apps/features, exercising every orchestration feature."""
    async for host in serve(APPS / "features", connection_string, tmp_path_factory):
        yield host


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
async def entities_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    """The test app under tests/e2e/apps/entities (batches of at most 4 operations)."""
    async for host in serve(APPS / "entities", connection_string, tmp_path_factory):
        yield host


# ---- the same apps on each provider: behaviour that must not differ between them ------------------------
PROVIDERS = ("azurestorage", "memory", "postgres")
FEATURE_PROVIDERS = PROVIDERS
"""The providers the features and patterns suites run on (every one: about 20 s on PostgreSQL)."""


def storage_args(provider: str) -> tuple[str, ...]:
    """The `durable-ext start` arguments that put the task hub on ``provider``."""
    return () if provider == "azurestorage" else ("--storage", provider)


@pytest.fixture(scope="session")
async def features_memory_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    """The features app with its task hub in memory."""
    async for host in serve(
        APPS / "features", connection_string, tmp_path_factory, extra_args=storage_args("memory")
    ):
        yield host


@pytest.fixture(scope="session")
async def entities_memory_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    """The entities app with its task hub in memory."""
    async for host in serve(
        APPS / "entities", connection_string, tmp_path_factory, extra_args=storage_args("memory")
    ):
        yield host


async def serve_on_postgres(
    app: str, connection_string: str, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    """A test app with its task hub in the session's PostgreSQL (``--storage postgres``)."""
    env = {"PostgresConnection": postgres_dsn}
    async for host in serve(APPS / app, connection_string, tmp_path_factory, env, storage_args("postgres")):
        yield host


@pytest.fixture(scope="session")
async def features_postgres_host(
    connection_string: str, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    async for host in serve_on_postgres("features", connection_string, postgres_dsn, tmp_path_factory):
        yield host


@pytest.fixture(scope="session")
async def entities_postgres_host(
    connection_string: str, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    async for host in serve_on_postgres("entities", connection_string, postgres_dsn, tmp_path_factory):
        yield host


def _host_on(request: pytest.FixtureRequest, app: str) -> RunningHost:
    suffix = {"azurestorage": "", "memory": "_memory", "postgres": "_postgres"}[request.param]
    host: RunningHost = request.getfixturevalue(f"{app}{suffix}_host")
    return host


@pytest.fixture(scope="session", params=FEATURE_PROVIDERS)
def features_host_on(request: pytest.FixtureRequest) -> RunningHost:
    """The features app on each provider in turn (tests using it run once per provider)."""
    return _host_on(request, "features")


@pytest.fixture(scope="session", params=PROVIDERS)
def entities_host_on(request: pytest.FixtureRequest) -> RunningHost:
    """The entities app on each provider in turn."""
    return _host_on(request, "entities")
