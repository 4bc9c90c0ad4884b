"""Putting the instance index right where it lags the Instances table.

Every write of an Instances row goes with the index's write (``instance_index``), retried through
outages; what can still leave the index behind is a process that dies between the two. A sweep repairs
that: every ``interval``, one worker of the hub (the one that claims it on the index's ``~meta`` row)
goes over the Instances rows changed since the last sweep; each is recorded again, checked against what
the index holds (read, not cached), and the row is read once more afterwards, so that a change written
meanwhile by another process is not undone by the repair's older copy (a change whose row lands later
still is the next sweep's). Rows changed in the last ``SETTLE_S`` are left to the next sweep (their own
writer may still be at it), and each sweep reaches ``CLOCK_MARGIN_S`` back before the last, for the
clocks of the writers. Listings read each instance's row, so what they show is right meanwhile; only
counts and which instances a page finds wait for the sweep.

An instance purged by a process that died before removing its index rows is dropped from the index by
the first listing that comes across it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from ..core.background_loop import BackgroundLoop
from ..core.entities import is_entity_instance
from .clients import translated
from .instance_index import META_KEY, META_PARTITION, InstanceIndex
from .instance_store import InstanceStore, listed_of
from .names import unescape_key

log = logging.getLogger("durable_ext.index")

INTERVAL_S = 600.0
FIRST_AFTER_S = 30.0
"""A worker's first sweep waits this long after it starts (a start is busy enough)."""
SETTLE_S = 120.0
CLOCK_MARGIN_S = 300.0
FIRST_SWEEP = timedelta(days=1)
"""How far back the first sweep of a hub reaches."""
CHECKS = 3
"""Times an instance is recorded again while its row keeps changing under the repair."""
AT_ONCE = 16
COLUMNS = ["PartitionKey", "Name", "RuntimeStatus", "CreatedTime", "LastUpdatedTime"]


class IndexRepair:
    def __init__(
        self, index: InstanceIndex, instances: InstanceStore, interval_s: float = INTERVAL_S
    ) -> None:
        self.index = index
        self.instances = instances
        self.interval_s = interval_s
        self.loop = BackgroundLoop(
            "instance-index-repair", self.run, interval_s, "Repairing the instance index", FIRST_AFTER_S
        )

    async def run(self, now: datetime | None = None) -> int | None:
        """Sweep if no worker has in the last interval; the rows checked, ``None`` when another had."""
        now = now or datetime.now(UTC)
        claimed = await self._claim(now)
        if claimed is None:
            return None
        since = claimed
        until = now - timedelta(seconds=SETTLE_S)
        checked = await self.sweep(since - timedelta(seconds=CLOCK_MARGIN_S), until)
        async with translated("Marking the instance index repaired"):
            entity = {"PartitionKey": META_PARTITION, "RowKey": META_KEY, "RepairedUntil": until}
            await self.index.table.update_entity(entity, mode=UpdateMode.MERGE)
        log.info("The instance index was checked against %d instances changed since %s", checked, since)
        return checked

    async def _claim(self, now: datetime) -> datetime | None:
        """Take this interval's sweep (the ``~meta`` row's ``RepairClaimed``, under its ETag); where the
        last sweep ended."""
        async with translated("Reading the instance index's state"):
            try:
                meta = await self.index.table.get_entity(META_PARTITION, META_KEY)
            except ResourceNotFoundError:
                return None
            claimed = meta.get("RepairClaimed")
            if isinstance(claimed, datetime) and now - claimed < timedelta(seconds=self.interval_s * 0.9):
                return None
            try:
                await self.index.table.update_entity(
                    {"PartitionKey": META_PARTITION, "RowKey": META_KEY, "RepairClaimed": now},
                    mode=UpdateMode.MERGE,
                    etag=meta.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                return None  # another worker claimed it first
        repaired = meta.get("RepairedUntil")
        return repaired if isinstance(repaired, datetime) else now - FIRST_SWEEP

    async def sweep(self, since: datetime, until: datetime) -> int:
        """Check every instance whose Instances row changed from ``since`` to before ``until``."""
        limit = asyncio.Semaphore(AT_ONCE)
        checked = 0

        async def check(instance_id: str, row: dict[str, Any]) -> None:
            async with limit:
                await self.follow(instance_id, row)

        query = "RowKey eq '' and LastUpdatedTime ge @since and LastUpdatedTime lt @until"
        async with translated("Reading the Instances rows changed since the last index repair"):
            chunk: list[tuple[str, dict[str, Any]]] = []
            async for entity in self.instances.table.query_entities(
                query, parameters={"since": since, "until": until}, select=COLUMNS, results_per_page=1000
            ):
                instance_id = unescape_key(str(entity["PartitionKey"]))
                if not is_entity_instance(instance_id):
                    chunk.append((instance_id, dict(entity)))
                if len(chunk) >= 1000:
                    await asyncio.gather(*(check(*item) for item in chunk))
                    checked, chunk = checked + len(chunk), []
            await asyncio.gather(*(check(*item) for item in chunk))
        return checked + len(chunk)

    async def follow(self, instance_id: str, row: dict[str, Any]) -> None:
        """Make the index list the instance as its row says, and as it says still once that is done."""
        listed = listed_of(row)
        for _ in range(CHECKS):
            if listed is None:
                return
            await self.index.record(instance_id, listed, [listed.created], fresh=True)
            again = await self.instances.get_row(instance_id)
            now = listed_of(again) if again is not None else None
            if now == listed:
                return
            if now is None:  # purged meanwhile: the purge took its rows away, or a listing will
                return
            listed = now

    def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()
