"""The storage accounts the storage bindings use: one set of async clients per connection, per process.

A binding's ``connection`` names an app setting. As in the Functions host, ``AzureWebJobs<name>`` is
looked up first, then ``<name>``; no ``connection`` means ``AzureWebJobsStorage``. The value is a
connection string (``UseDevelopmentStorage=true`` included).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from durable_ext.azurestorage.clients import StorageClients
from durable_ext.errors import ConfigurationError

DEFAULT_CONNECTION = "AzureWebJobsStorage"


def connection_setting(binding: dict[str, Any]) -> str:
    """The binding's ``connection`` (default ``AzureWebJobsStorage``)."""
    return str(binding.get("connection") or DEFAULT_CONNECTION)


class StorageAccounts:
    """Hands out the clients of the account a connection setting names, creating each set once."""

    def __init__(self, get_setting: Callable[[str], str | None]) -> None:
        self._get = get_setting
        self._clients: dict[str, StorageClients] = {}

    def connection_string(self, connection: str, function_name: str) -> str:
        for name in (f"AzureWebJobs{connection}", connection):
            value = self._get(name)
            if value:
                return value
        raise ConfigurationError(
            f"Function '{function_name}' uses the storage connection '{connection}', but neither the app "
            f"setting '{connection}' nor 'AzureWebJobs{connection}' is set. Add it to local.settings.json "
            "Values (a connection string, or UseDevelopmentStorage=true) or the environment."
        )

    def check(self, connection: str, function_name: str) -> None:
        """Raise ConfigurationError at indexing if ``connection`` names no setting."""
        self.connection_string(connection, function_name)

    def clients(self, connection: str, function_name: str = "?") -> StorageClients:
        """The account's clients (created on first use, shared by every binding that names it)."""
        value = self.connection_string(connection, function_name)
        found = self._clients.get(value)
        if found is None:
            found = self._clients[value] = StorageClients.from_connection_string(value, connection)
        return found

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.close() for c in clients))
