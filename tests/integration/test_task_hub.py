"""Creating a task hub's resources in Azurite under exactly the reference's names (reference §1.1)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings


@dataclass
class Inventory:
    tables: set[str]
    queues: set[str]
    blobs: dict[str, set[str]]


@pytest.fixture
def hub(hub_name: str) -> str:
    """The test's hub name with an upper-case first letter, to see which names keep the case."""
    return hub_name[0].upper() + hub_name[1:]


@pytest.fixture
async def blob_service(connection_string: str) -> AsyncIterator[BlobServiceClient]:
    async with BlobServiceClient.from_connection_string(connection_string) as client:
        yield client


async def _inventory(connection_string: str, hub: str) -> Inventory:
    prefix = hub.lower()
    async with TableServiceClient.from_connection_string(connection_string) as tables:
        table_names = {t.name async for t in tables.list_tables() if t.name.lower().startswith(prefix)}
    async with QueueServiceClient.from_connection_string(connection_string) as queues:
        queue_names = {q.name async for q in queues.list_queues(name_starts_with=prefix)}
    async with BlobServiceClient.from_connection_string(connection_string) as blobs:
        containers = {c.name async for c in blobs.list_containers(name_starts_with=prefix)}
        contents = {}
        for name in containers:
            container = blobs.get_container_client(name)
            contents[name] = {b.name async for b in container.list_blobs()}
    return Inventory(table_names, queue_names, contents)


async def _ensure(connection_string: str, hub: str) -> None:
    service = AzureStorageOrchestrationService(
        AzureStorageSettings(hub_name=hub, connection_string=connection_string)
    )
    try:
        await service.ensure_task_hub()
        await service.ensure_task_hub()  # a second call on the same service is a no-op
    finally:
        await service.close()


def _expected(hub: str) -> Inventory:
    low = hub.lower()
    controls = [f"{low}-control-{i:02d}" for i in range(4)]
    return Inventory(
        tables={f"{hub}History", f"{hub}Instances", f"{hub}InstanceIndex"},  # the last one is ours
        queues={f"{low}-workitems", *controls},
        blobs={
            f"{low}-applease": {f"{low}-appleaseinfo"},
            f"{low}-leases": {
                "taskhub.json",
                *(f"intent/{q}" for q in controls),
                *(f"ownership/{q}" for q in controls),
            },
        },
    )


async def test_ensure_creates_the_reference_names_and_our_instance_index(
    connection_string: str, hub: str
) -> None:
    await _ensure(connection_string, hub)
    found = await _inventory(connection_string, hub)
    expected = _expected(hub)
    assert found.tables == expected.tables
    assert found.queues == expected.queues
    assert found.blobs == expected.blobs


async def test_lease_store_contents(
    connection_string: str, hub: str, blob_service: BlobServiceClient
) -> None:
    await _ensure(connection_string, hub)
    low = hub.lower()
    info_blob = blob_service.get_blob_client(f"{low}-leases", "taskhub.json")
    info = json.loads(await (await info_blob.download_blob()).readall())
    assert info["TaskHubName"] == hub
    assert info["PartitionCount"] == 4
    app_lease = blob_service.get_blob_client(f"{low}-applease", f"{low}-appleaseinfo")
    assert json.loads(await (await app_lease.download_blob()).readall()) == {}
    lease = blob_service.get_blob_client(f"{low}-leases", f"ownership/{low}-control-02")
    body = json.loads(await (await lease.download_blob()).readall())
    assert body["PartitionId"] == f"{low}-control-02"


async def test_ensure_twice_with_separate_services_is_fine(connection_string: str, hub: str) -> None:
    await _ensure(connection_string, hub)
    before = await _inventory(connection_string, hub)
    await _ensure(connection_string, hub)  # everything exists already: nothing fails, nothing changes
    after = await _inventory(connection_string, hub)
    assert after == before == _expected(hub)


async def test_partition_count_sets_the_control_queues(connection_string: str, hub_name: str) -> None:
    settings = AzureStorageSettings(hub_name=hub_name, connection_string=connection_string, partition_count=2)
    service = AzureStorageOrchestrationService(settings)
    try:
        await service.ensure_task_hub()
    finally:
        await service.close()
    found = await _inventory(connection_string, hub_name)
    assert found.queues == {
        f"{hub_name.lower()}-workitems",
        f"{hub_name.lower()}-control-00",
        f"{hub_name.lower()}-control-01",
    }
    assert sorted(found.blobs[f"{hub_name.lower()}-leases"]) == sorted(
        ["taskhub.json"]
        + [f"{kind}/{hub_name.lower()}-control-0{i}" for kind in ("intent", "ownership") for i in range(2)]
    )
