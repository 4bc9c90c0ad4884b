"""Creating the task hub's storage resources, under the names DurableTask.AzureStorage uses."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from .clients import StorageClients, retry_transient, translated
from .names import TaskHubNames
from .queues import TaskHubQueue


class TaskHubResources:
    def __init__(self, clients: StorageClients, names: TaskHubNames, queues: list[TaskHubQueue]) -> None:
        self.clients = clients
        self.names = names
        self.queues = queues

    async def ensure(self) -> None:
        """Create whatever is missing; safe to run again and from several workers at once."""
        await retry_transient(self._ensure_once, f"Creating task hub '{self.names.hub}'")

    async def _ensure_once(self) -> None:
        await self._ensure_app_lease()
        await self._ensure_lease_store()
        await asyncio.gather(
            self._create_table(self.names.history_table),
            self._create_table(self.names.instances_table),
            self._create_table(self.names.instance_index_table),
            *(queue.create() for queue in self.queues),
        )

    async def delete(self) -> list[str]:
        """Delete every queue, table and container of the hub (``func durable delete-task-hub``); return
        the names of those that existed."""
        names = self.names
        tables = [names.history_table, names.instances_table, names.instance_index_table, names.poison_table]
        containers = [names.leases_container, names.app_lease_container, names.large_messages_container]
        queues = [*names.control_queues, names.work_item_queue]
        deleted = await asyncio.gather(
            *(self._delete(name, self.clients.tables.delete_table) for name in tables),
            *(self._delete(name, self.clients.blobs.delete_container) for name in containers),
            *(self._delete(name, self.clients.queues.delete_queue) for name in queues),
        )
        return [name for name in deleted if name]

    async def _delete(self, name: str, delete: Any) -> str | None:
        async with translated(f"Deleting '{name}'"):
            try:
                await delete(name)
            except ResourceNotFoundError:
                return None
        return name

    async def _create_container(self, name: str) -> None:
        async with translated(f"Creating blob container '{name}'"):
            with contextlib.suppress(ResourceExistsError):
                await self.clients.blobs.create_container(name)

    async def _create_blob(self, container: str, blob: str, content: str) -> None:
        async with translated(f"Creating blob '{container}/{blob}'"):
            with contextlib.suppress(ResourceExistsError):
                blob_client = self.clients.blobs.get_blob_client(container, blob)
                await blob_client.upload_blob(content, overwrite=False)

    async def _create_table(self, name: str) -> None:
        async with translated(f"Creating table '{name}'"):
            with contextlib.suppress(ResourceExistsError):
                await self.clients.tables.create_table(name)

    async def _ensure_app_lease(self) -> None:
        await self._create_container(self.names.app_lease_container)
        await self._create_blob(self.names.app_lease_container, self.names.app_lease_info_blob, "{}")

    async def _ensure_lease_store(self) -> None:
        container = self.names.leases_container
        await self._create_container(container)
        info = {
            "TaskHubName": self.names.hub,
            "CreatedAt": datetime.now(UTC).isoformat(),
            "PartitionCount": self.names.partition_count,
        }
        await self._create_blob(container, "taskhub.json", json.dumps(info))
        blobs = []
        for queue in self.names.control_queues:
            lease = json.dumps({"PartitionId": queue, "Owner": None, "Token": None, "Epoch": 0})
            blobs += [
                self._create_blob(container, f"intent/{queue}", lease),
                self._create_blob(container, f"ownership/{queue}", lease),
            ]
        await asyncio.gather(*blobs)
