"""Shared fixtures: one in-memory Azurite and one PostgreSQL per test session on free ports, and a task hub
name per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from durable_ext.host.azurite import AzuriteProcess
from durable_ext.host.postgres_server import PostgresServer


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def azurite() -> AsyncIterator[AzuriteProcess]:
    """An Azurite with in-memory persistence on free ports, shared by the whole session."""
    async with AzuriteProcess() as process:
        yield process


@pytest.fixture(scope="session")
def connection_string(azurite: AzuriteProcess) -> str:
    return azurite.connection_string


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres() -> AsyncIterator[PostgresServer]:
    """A PostgreSQL server of its own (``initdb`` in a temporary folder, a free port), for the session."""
    async with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_dsn(postgres: PostgresServer) -> str:
    return postgres.dsn


@pytest.fixture
def hub_name() -> str:
    """A task hub name of its own for each test (letters and digits, starts with a letter)."""
    return "t" + uuid.uuid4().hex[:12]
