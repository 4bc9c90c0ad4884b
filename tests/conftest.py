"""Shared fixtures: one in-memory Azurite per test session on free ports, and a task hub name per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from durable_ext.host.azurite import AzuriteProcess


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def azurite() -> AsyncIterator[AzuriteProcess]:
    """An Azurite with in-memory persistence on free ports, shared by the whole session."""
    async with AzuriteProcess() as process:
        yield process


@pytest.fixture(scope="session")
def connection_string(azurite: AzuriteProcess) -> str:
    return azurite.connection_string


@pytest.fixture
def hub_name() -> str:
    """A task hub name of its own for each test (letters and digits, starts with a letter)."""
    return "t" + uuid.uuid4().hex[:12]
