"""Fixtures for end-to-end tests: the host as a subprocess over the session's Azurite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from .hosting import REPO_ROOT, RunningHost, start_host, stop_host, wait_until_serving


@pytest.fixture(scope="session")
async def sample_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    """The repository's own sample app, served by `durable-ext start`."""
    log_path = tmp_path_factory.mktemp("host") / "host.log"
    host = start_host(REPO_ROOT, connection_string, log_path, {})
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
    log_path = tmp_path_factory.mktemp("features") / "host.log"
    host = start_host(REPO_ROOT / "tests" / "e2e" / "apps" / "features", connection_string, log_path, {})
    try:
        await wait_until_serving(host)
        yield host
    finally:
        stop_host(host)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
async def entities_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    """The test app under tests/e2e/apps/entities (batches of at most 4 operations)."""
    log_path = tmp_path_factory.mktemp("entities") / "host.log"
    host = start_host(REPO_ROOT / "tests" / "e2e" / "apps" / "entities", connection_string, log_path, {})
    try:
        await wait_until_serving(host)
        yield host
    finally:
        stop_host(host)
