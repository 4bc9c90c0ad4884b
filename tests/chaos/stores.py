"""Where a chaos run keeps its task hub, and how the run reads it back without going through the host.

The Azure Storage store is an Azurite; the PostgreSQL store is a PostgreSQL server of its own (``initdb``
in the run's folder) beside an Azurite that only holds ``AzureWebJobsStorage``. Restarting the store
restarts whichever one holds the task hub.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

import asyncpg
from azure.data.tables.aio import TableClient

from durable_ext.azurestorage.instance_index import PARTITIONS, partition_of
from durable_ext.host.azurite import AzuriteProcess
from durable_ext.host.postgres_server import PostgresServer

APP = Path(__file__).resolve().parent / "app"
TERMINAL = ("Completed", "Failed", "Terminated")
PG_SCHEMA = "chaos"
PG_SETTING = "CHAOS_PG"


class ChaosStore(Protocol):
    name: str

    @property
    def connection_string(self) -> str:
        """``AzureWebJobsStorage`` for the workers."""

    def worker_env(self) -> dict[str, str]: ...

    def app(self) -> Path:
        """The chaos app's script root on this store."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def restart(self) -> None:
        """Stop the task hub's storage, wait, and start it again with its data."""

    async def statuses(self, hub: str) -> dict[str, tuple[str | None, Any]]:
        """Every instance's runtime status and output (parsed JSON)."""

    async def scheduled_twice(self, hub: str, instance_ids: list[str]) -> list[str]:
        """The instances whose current execution's history schedules one task id more than once."""

    async def listing_differs(self, hub: str) -> list[str]:
        """Where the store's listings by created time and counts disagree with the instances' rows."""


class AzureChaosStore:
    name = "azurestorage"

    def __init__(self, workdir: Path) -> None:
        self.azurite = AzuriteProcess(location=workdir / "azurite")

    @property
    def connection_string(self) -> str:
        return self.azurite.connection_string

    def worker_env(self) -> dict[str, str]:
        return {}

    def app(self) -> Path:
        return APP

    async def start(self) -> None:
        await self.azurite.start()

    async def stop(self) -> None:
        await self.azurite.stop()

    async def restart(self) -> None:
        ports, location = self.azurite.ports, self.azurite.location
        await self.azurite.stop()
        await asyncio.sleep(3)
        self.azurite = AzuriteProcess(*ports, location=location)
        await self.azurite.start()

    async def statuses(self, hub: str) -> dict[str, tuple[str | None, Any]]:
        table = TableClient.from_connection_string(self.connection_string, f"{hub}Instances")
        async with table:
            rows = [dict(row) async for row in table.query_entities("RowKey eq ''")]
        return {
            r["PartitionKey"]: (r.get("RuntimeStatus"), json.loads(r.get("Output") or "null")) for r in rows
        }

    async def listing_differs(self, hub: str) -> list[str]:
        """The instance index against the Instances table: one ``d|`` row per orchestration with its
        status, in the partition of its id, and count rows that add up to the statuses."""
        rows = {k: (s, _) for k, (s, _) in (await self.statuses(hub)).items() if not k.startswith("@")}
        truth = Counter(status for status, _ in rows.values())
        table = TableClient.from_connection_string(self.connection_string, f"{hub}InstanceIndex")
        async with table:
            index = [
                dict(r)
                async for r in table.query_entities("PartitionKey ne 'index' and PartitionKey ne 'jobs'")
            ]
        listed = {
            str(r["InstanceId"]): str(r["RuntimeStatus"])
            for r in index
            if r["RowKey"].startswith("d|")
            and r["PartitionKey"] == partition_of(str(r["InstanceId"]), PARTITIONS)
        }
        counted: Counter[str] = Counter()
        for r in index:
            if r["RowKey"].startswith("~t|"):
                counted[r["RowKey"].split("|")[1]] += int(r["Count"])
        differs = [
            f"{i}: listed {listed.get(i)}, row {s}" for i, (s, _) in rows.items() if listed.get(i) != s
        ]
        differs += [f"{i}: listed, but has no row" for i in listed if i not in rows]
        if +counted != +truth:
            differs.append(f"counts {dict(+counted)} != rows {dict(truth)}")
        return differs

    async def scheduled_twice(self, hub: str, instance_ids: list[str]) -> list[str]:
        twice = []
        table = TableClient.from_connection_string(self.connection_string, f"{hub}History")
        async with table:
            for instance_id in instance_ids:
                query = table.query_entities("PartitionKey eq @pk", parameters={"pk": instance_id})
                rows = [dict(r) async for r in query]
                sentinel = next((r for r in rows if r["RowKey"] == "sentinel"), {})
                scheduled = Counter(
                    r["EventId"]
                    for r in rows
                    if r.get("EventType") == "TaskScheduled"
                    and r.get("ExecutionId") == sentinel.get("ExecutionId")
                )
                if any(n > 1 for n in scheduled.values()):
                    twice.append(instance_id)
        return twice


class PostgresChaosStore:
    name = "postgres"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.azurite = AzuriteProcess(location=workdir / "azurite")
        self.server = PostgresServer()

    @property
    def connection_string(self) -> str:
        return self.azurite.connection_string

    def worker_env(self) -> dict[str, str]:
        return {PG_SETTING: self.server.dsn}

    def app(self) -> Path:
        """The chaos app with host.json putting the hub in PostgreSQL; a killed worker's locks last 10 s."""
        root = self.workdir / "app-postgres"
        if not root.exists():
            root.mkdir()
            shutil.copy(APP / "function_app.py", root / "function_app.py")
            provider = {
                "type": "postgres",
                "connectionStringName": PG_SETTING,
                "schemaName": PG_SCHEMA,
                "taskEventLockTimeout": "00:00:10",
            }
            durable = {"hubName": "%CHAOS_HUB%", "storageProvider": provider}
            host = {"version": "2.0", "extensions": {"durableTask": durable}}
            (root / "host.json").write_text(json.dumps(host))
        return root

    async def start(self) -> None:
        await self.azurite.start()
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
        await self.azurite.stop()

    async def restart(self) -> None:
        await self.server.restart()

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.server.dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def statuses(self, hub: str) -> dict[str, tuple[str | None, Any]]:
        rows = await self._fetch(
            f"SELECT InstanceID, RuntimeStatus, Output FROM {PG_SCHEMA}.Instances WHERE TaskHub = $1",
            hub.lower(),
        )
        return {r["instanceid"]: (r["runtimestatus"], json.loads(r["output"] or "null")) for r in rows}

    async def listing_differs(self, hub: str) -> list[str]:
        return []  # listings and counts are queries of the Instances table itself

    async def scheduled_twice(self, hub: str, instance_ids: list[str]) -> list[str]:
        rows = await self._fetch(
            f"SELECT DISTINCT h.InstanceID FROM {PG_SCHEMA}.History h JOIN {PG_SCHEMA}.Instances i "
            "ON i.TaskHub = h.TaskHub AND i.InstanceID = h.InstanceID AND i.ExecutionID = h.ExecutionID "
            "WHERE h.TaskHub = $1 AND h.InstanceID = ANY($2) AND h.EventType = 'TaskScheduled' "
            "GROUP BY h.InstanceID, h.TaskID HAVING count(*) > 1",
            hub.lower(),
            instance_ids,
        )
        return [r["instanceid"] for r in rows]


def chaos_store(name: str, workdir: Path) -> ChaosStore:
    stores: dict[str, type[AzureChaosStore] | type[PostgresChaosStore]] = {
        "azurestorage": AzureChaosStore,
        "postgres": PostgresChaosStore,
    }
    if name not in stores:
        raise ValueError(f"unknown store {name!r}: choose one of {', '.join(stores)}")
    return stores[name](workdir)
