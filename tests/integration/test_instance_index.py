"""The instance index beside the Azure Storage tables: rows and counts that follow every change of an
instance, listings read from it, and the Instances table as the truth when the two disagree."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import UpdateMode

from durable_ext.azurestorage.index_queries import index_serves
from durable_ext.azurestorage.instance_index import (
    META_PARTITION,
    TOTAL_PREFIX,
    newest_key,
    oldest_key,
    status_key,
)
from durable_ext.azurestorage.instance_queries import count_rows
from durable_ext.azurestorage.names import escape_key
from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.core.client import TaskHubClient
from durable_ext.core.history import OrchestrationStatus
from durable_ext.core.queries import InstanceOrder, InstanceQuery
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner

from ..providers import azure_service
from .test_engine import REGISTRY, _sdk_input
from .workers import running_worker

S = OrchestrationStatus
NEWEST = InstanceQuery(order=InstanceOrder.NEWEST)


@pytest.fixture
async def service(connection_string: str, hub_name: str) -> AsyncIterator[AzureStorageOrchestrationService]:
    svc = azure_service(connection_string, hub_name)
    await svc.ensure_task_hub()
    try:
        yield svc
    finally:
        await svc.close()


async def _index_rows(service: AzureStorageOrchestrationService) -> list[dict[str, Any]]:
    """Every row of the index but its ``~meta`` row, of every partition."""
    rows = service.index.table.query_entities("PartitionKey ne @pk", parameters={"pk": META_PARTITION})
    return [dict(row) async for row in rows]


async def _totals(service: AzureStorageOrchestrationService) -> dict[str, int]:
    """The count rows summed per status (what ``GET /counts`` reads), zeros left out."""
    totals: dict[str, int] = {}
    for row in await _index_rows(service):
        if str(row["RowKey"]).startswith(TOTAL_PREFIX):
            status = str(row["RowKey"])[len(TOTAL_PREFIX) :].split("|")[0]
            totals[status] = totals.get(status, 0) + int(row["Count"])
    return {status: n for status, n in totals.items() if n}


async def _scanned(service: AzureStorageOrchestrationService) -> dict[str, int]:
    """The same counts from every Instances row, as the reference would have to."""
    return {s.name: n for s, n in (await count_rows(service.instances.table, InstanceQuery())).items()}


async def _start(client: TaskHubClient, instance_id: str, name: str = "chain") -> None:
    await client.start(name, _sdk_input(["x"]), instance_id)
    await asyncio.sleep(0.005)  # a created time of its own


async def test_a_new_hub_lists_from_the_index_and_every_start_has_three_rows(
    service: AzureStorageOrchestrationService,
) -> None:
    assert service.index.built and index_serves(service.index, NEWEST)
    client = TaskHubClient(service)
    for instance_id in ("i-2", "i/3", "i-1"):  # a '/' is escaped in the row key
        await _start(client, instance_id)
    rows = await _index_rows(service)
    keys = sorted(str(r["RowKey"]) for r in rows)
    assert [k[:2] for k in keys].count("d|") == 3 and [k[:2] for k in keys].count("a|") == 3
    assert [k for k in keys if k.startswith("s|")] == sorted(k for k in keys if k.startswith("s|Pending|"))
    assert any(escape_key("i/3") in k for k in keys)
    listing = [r for r in rows if not str(r["RowKey"]).startswith("~")]
    assert all(r["PartitionKey"] == service.index.partition_of(str(r["InstanceId"])) for r in listing)
    assert len({r["PartitionKey"] for r in listing}) > 1  # spread by instance: the ids were picked so
    assert [s.instance_id for s in (await client.query(NEWEST)).states] == ["i-1", "i/3", "i-2"]
    assert await _totals(service) == {"Pending": 3}


async def test_counts_stay_exact_through_runs_terminations_restarts_and_purges(
    service: AzureStorageOrchestrationService,
) -> None:
    executor = ThreadPoolExecutor(2)
    orchestrations, activities = SdkOrchestrationRunner(REGISTRY, executor), SdkActivityRunner(REGISTRY)
    async with running_worker(service, executor, orchestrations, activities):
        client = TaskHubClient(service)
        for i in range(6):
            await _start(client, f"c-{i}")
        await _start(client, "w-1", "waiter")
        for i in range(6):
            assert (await client.wait_for_completion(f"c-{i}", 30)).status == S.Completed
        await client.terminate("w-1", "enough")
        assert (await client.wait_for_completion("w-1", 30)).status == S.Terminated
        await client.start("chain", _sdk_input(["again"]), "c-0")  # a finished id started again
        assert (await client.wait_for_completion("c-0", 30)).status == S.Completed
        assert await client.purge("c-1") == 1
        assert await client.purge_by(InstanceQuery(statuses=frozenset({S.Terminated}))) == 1
    assert await _totals(service) == await _scanned(service) == {"Completed": 5}
    newest = [s.instance_id for s in (await TaskHubClient(service).query(NEWEST)).states]
    assert newest == ["c-0", "c-5", "c-4", "c-3", "c-2"]  # c-0 moved up: its created time is new
    keys = [str(r["RowKey"]) for r in await _index_rows(service) if not str(r["RowKey"]).startswith("~")]
    assert len(keys) == 15  # three rows an instance: none left behind by the restart or the purges
    assert len([k for k in keys if k.startswith("s|Completed|")]) == 5


async def test_a_second_writer_with_its_own_cache_keeps_the_counts_exact(
    connection_string: str, hub_name: str, service: AzureStorageOrchestrationService
) -> None:
    other = azure_service(connection_string, hub_name)
    await other.ensure_task_hub()
    try:
        first, second = TaskHubClient(service), TaskHubClient(other)
        await _start(first, "x-1")
        await second.terminate("x-1", "from another process")  # its cache has never seen x-1
        assert await _totals(service) == {"Terminated": 1}
        assert await first.purge("x-1") == 1  # first's cache still says Pending: its ETag is stale
        assert await _totals(service) == {}
        assert await _index_rows(service) == [r for r in await _index_rows(service) if r["RowKey"][0] == "~"]
    finally:
        await other.close()


async def test_index_rows_the_instances_table_disagrees_with_are_skipped_and_removed(
    service: AzureStorageOrchestrationService,
) -> None:
    client = TaskHubClient(service)
    await _start(client, "real-1")
    ghost_time = datetime.now(UTC)
    ghost = {"PartitionKey": service.index.partition_of("ghost"), "RowKey": newest_key(ghost_time, "ghost")}
    ghost |= {"InstanceId": "ghost", "Name": "chain", "RuntimeStatus": "Pending", "CreatedTime": ghost_time}
    left = (ghost["RowKey"], oldest_key(ghost_time, "ghost"), status_key("Pending", ghost_time, "ghost"))
    for row_key in left:  # as a purge elsewhere might have left them
        await service.index.table.upsert_entity(ghost | {"RowKey": row_key}, mode=UpdateMode.REPLACE)
    assert [s.instance_id for s in (await client.query(NEWEST)).states] == ["real-1"]
    for _ in range(50):
        if not any("ghost" in r["RowKey"] for r in await _index_rows(service)):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the stale index row was never removed")


async def test_a_hub_from_before_the_index_is_listed_from_the_instances_table_until_filled(
    connection_string: str, hub_name: str
) -> None:
    seed = azure_service(connection_string, hub_name)
    await seed.resources.ensure()  # the tables, but no index state: as a hub made before it
    for i, created in enumerate([datetime(2024, 1, d, tzinfo=UTC) for d in (3, 1, 2)]):
        row = {"PartitionKey": f"old-{i}", "RowKey": "", "Name": "chain", "RuntimeStatus": "Completed"}
        row |= {"CreatedTime": created, "LastUpdatedTime": created, "Input": json.dumps("x")}
        await seed.instances.table.upsert_entity(row, mode=UpdateMode.REPLACE)
    await seed.close()
    service = azure_service(connection_string, hub_name)
    try:
        await service.ensure_task_hub()
        assert not service.index.built and not index_serves(service.index, NEWEST)
        client = TaskHubClient(service)
        assert [s.instance_id for s in (await client.query(NEWEST)).states] == ["old-0", "old-2", "old-1"]
        assert (await client.count())[S.Completed] == 3
        await _start(client, "new-1")  # a writer beside the backfill: its change stands
        assert await service.index.backfill(service.instances.table) == 4
        assert service.index.built and index_serves(service.index, NEWEST)
        newest = [s.instance_id for s in (await client.query(NEWEST)).states]
        assert newest == ["new-1", "old-0", "old-2", "old-1"]
        assert await _totals(service) == await _scanned(service) == {"Completed": 3, "Pending": 1}
    finally:
        await service.close()
    again = azure_service(connection_string, hub_name)
    try:
        await again.ensure_task_hub()
        assert again.index.built  # the next worker reads that the index is complete
    finally:
        await again.close()


async def _as_a_dead_writer_left_it(service: AzureStorageOrchestrationService, row: dict[str, Any]) -> None:
    """Write an Instances row and not the index: a process that died between the two."""
    await service.instances.table.upsert_entity(row, mode=UpdateMode.MERGE)


async def test_the_sweep_lists_what_a_writer_that_died_left_out_of_the_index(
    service: AzureStorageOrchestrationService,
) -> None:
    client = TaskHubClient(service)
    for instance_id in ("r-1", "r-2"):
        await _start(client, instance_id)
    now = datetime.now(UTC)
    settled = now - timedelta(minutes=5)
    await _as_a_dead_writer_left_it(
        service,
        {"PartitionKey": "r-1", "RowKey": "", "RuntimeStatus": "Completed", "LastUpdatedTime": settled},
    )
    lost = {"PartitionKey": "lost-1", "RowKey": "", "Name": "chain", "RuntimeStatus": "Running"}
    await _as_a_dead_writer_left_it(
        service, lost | {"CreatedTime": now - timedelta(minutes=10), "LastUpdatedTime": settled}
    )
    assert await _totals(service) == {"Pending": 2} != await _scanned(service)
    assert await service.repair.run(now) == 2  # r-2 changed too lately: the next sweep's
    assert await _totals(service) == await _scanned(service) == {"Pending": 1, "Completed": 1, "Running": 1}
    assert [s.instance_id for s in (await client.query(NEWEST)).states] == ["r-2", "r-1", "lost-1"]
    assert await service.repair.run(now + timedelta(minutes=1)) is None  # this interval's is done
    later = now + timedelta(minutes=11)
    assert await service.repair.run(later) == 3  # from where the last ended, a margin back


async def test_a_repair_does_not_undo_a_change_written_while_it_checked(
    service: AzureStorageOrchestrationService,
) -> None:
    client = TaskHubClient(service)
    await _start(client, "w-1")
    older = await service.instances.get_row("w-1")
    assert older is not None
    await client.terminate("w-1", "meanwhile")  # the row and the index say Terminated now
    assert await _totals(service) == {"Terminated": 1}
    await service.repair.follow("w-1", older)  # the repair read the row before the termination
    assert await _totals(service) == await _scanned(service) == {"Terminated": 1}
