"""The instance index: durable-ext's table beside the reference's, for listings by created time and counts.

The Instances table is keyed by instance id and can only be read in that order. ``<hub>InstanceIndex``
holds three rows per orchestration instance keyed by created time (``d|`` rows in newest-first order,
``a|`` rows oldest-first, ``s|<status>|`` rows newest first within a status) with its name and status,
and counts per status and orchestrator name per writer shard (``~t|`` rows). The rows are spread over
``Partitions`` partitions (``i00``, ``i01``, ...) by a hash of the instance id, each with its own
counts: an instance's rows and the counts they are in share a partition, so a change moves them in one
entity group transaction, conditional on the ETag of its ``d|`` row, and the counts are always exactly
the rows' statuses. Spread so, writes to the index are not all queued on one partition (a partition
takes some thousands of operations a second in Azure Storage, and Azurite slows down with the size of
a partition), and a listing merges one range query per partition, each in the same key order.

The Instances table stays the truth: the index follows each write to it (a client's write waits for
the index up to 1 s, an episode's, which sends both at once, up to 5 s; the index goes on by itself
after that) and a listing reads each instance's row before it shows it.
A hub this version created has the index from its first instance on (the ``~meta`` row says so); a hub
created before is listed from the Instances table, as the reference does. Entities are not indexed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables.aio import TableClient

from ..core.entities import is_entity_instance
from ..errors import StorageError
from . import table_batch
from .clients import is_transient, translated
from .lean_table import LeanTable
from .names import escape_key, unescape_key
from .table_batch import BatchOperation

log = logging.getLogger("durable_ext.index")

META_PARTITION = "index"
META_KEY = "~meta"
"""The row saying the index lists every instance, and over how many partitions."""
PARTITIONS = 32
"""Partitions of a new hub's index (a hub keeps the number its ``~meta`` row names)."""
TOTAL_PREFIX = "~t|"
SHARDS = 8
"""Writers spread their counts over this many rows per status and name, so that workers seldom write
the same count row at once (a conflict is retried)."""
CHANGES_PER_TRANSACTION = 10  # at most 6 row operations and 2 counts each: within the 100 of a batch
TRANSACTIONS_AT_ONCE = 4
"""Transactions a writer has under way at once, each in its own partition."""
ENTRY_CACHE_SIZE = 20_000
ATTEMPTS = 5
"""Transactions another writer's change got in the way of, before a change is given up (logged)."""
OUTAGE_ATTEMPTS = 12
"""Tries while storage fails (about a minute and a half), as a message is put back."""
_EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TICKS = 10**19 - 1


def ticks(created: datetime) -> int:
    """.NET ticks (100 ns since 0001-01-01) of a time with microseconds: what the keys order by."""
    delta = created.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def newest_key(created: datetime, instance_id: str) -> str:
    return f"d|{_MAX_TICKS - ticks(created):019d}|{escape_key(instance_id)}"


def oldest_key(created: datetime, instance_id: str) -> str:
    return f"a|{ticks(created):019d}|{escape_key(instance_id)}"


def status_key(status: str, created: datetime, instance_id: str) -> str:
    return f"s|{status}|{_MAX_TICKS - ticks(created):019d}|{escape_key(instance_id)}"


def newest_bounds(start: datetime | None, end: datetime | None, status: str | None = None) -> tuple[str, str]:
    """The RowKey range ``[low, high)`` of instances created from ``start`` to ``end`` (inclusive),
    newest first: of the ``d|`` rows, or of one status's ``s|`` rows."""
    head = "d|" if status is None else f"s|{status}|"
    low = f"{head}{_MAX_TICKS - ticks(end):019d}|" if end is not None else head
    high = f"{head}{_MAX_TICKS - ticks(start):019d}|~" if start is not None else head + "~"
    return low, high


def oldest_bounds(start: datetime | None, end: datetime | None) -> tuple[str, str]:
    low = f"a|{ticks(start):019d}|" if start is not None else "a|"
    high = f"a|{ticks(end):019d}|~" if end is not None else "a|~"
    return low, high


def total_key(status: str, name: str, shard: int) -> str:
    return f"{TOTAL_PREFIX}{status}|{escape_key(name)}|{shard}"


def shard_of(worker_id: str) -> int:
    return zlib.crc32(worker_id.encode()) % SHARDS


def partition_name(number: int) -> str:
    return f"i{number:02d}"


def partition_of(instance_id: str, partitions: int) -> str:
    """The index partition of an instance's rows (and of the counts they are in)."""
    return partition_name(zlib.crc32(instance_id.encode()) % partitions)


@dataclass(frozen=True)
class Listed:
    """What the index holds of one instance."""

    created: datetime
    name: str
    status: str


@dataclass
class _Entry:
    listed: Listed
    etag: str


@dataclass
class _Change:
    instance_id: str
    target: Listed | None
    """Where and as what the instance is listed now; ``None``: it is gone."""
    hints: set[datetime] = field(default_factory=set)
    """Created times the instance may be listed under (its rows are looked for there)."""
    done: list[asyncio.Future[None]] = field(default_factory=list)
    stale_at: datetime | None = None
    """Set for rows left under an old created time: only those go (the cache is not consulted)."""
    only_if_absent: bool = False
    """A backfill's: the instance is listed only if nothing lists it yet (a writer's change is newer)."""
    fresh: bool = False
    """A repair's: what the index holds is read, not taken from this writer's cache."""


class IndexConflict(Exception):
    """Another writer changed a row of the transaction first: read again and retry."""


class InstanceIndex:
    def __init__(self, table: TableClient, worker_id: str, lean: LeanTable | None = None) -> None:
        self.table = table
        self.lean = lean
        self.shard = shard_of(worker_id)
        self.built = False
        """The index lists every instance (known once :meth:`open` has read the ``~meta`` row)."""
        self.partitions = PARTITIONS
        self._entries: OrderedDict[str, _Entry | None] = OrderedDict()
        self._counts: dict[tuple[str, str], tuple[int, str]] = {}
        self._pending: dict[tuple[str, datetime | None], _Change] = {}
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    # ---- set-up -------------------------------------------------------------------------------
    async def open(self, instances: TableClient) -> None:
        """Learn whether the index lists every instance: it does once its ``~meta`` row says so, which
        is written while the Instances table is still empty (a new hub)."""
        meta = await self._read(META_PARTITION, META_KEY)
        self.built = meta is not None
        if meta is not None:
            self.partitions = int(meta.get("Partitions") or PARTITIONS)
            return
        async with translated("Looking for instances the index does not list"):
            rows = instances.query_entities("RowKey eq ''", select=["PartitionKey"], results_per_page=1)
            async for _ in rows:
                return  # a hub from before the index: listed from the Instances table
        async with translated("Marking the instance index complete"):
            with contextlib.suppress(ResourceExistsError):
                await self.table.create_entity(self._meta())
        meta = await self._read(META_PARTITION, META_KEY)  # another worker's may have been first
        self.partitions = int((meta or {}).get("Partitions") or PARTITIONS)
        self.built = True

    def _meta(self) -> dict[str, Any]:
        return {
            "PartitionKey": META_PARTITION,
            "RowKey": META_KEY,
            "Built": True,
            "Partitions": self.partitions,
        }

    @property
    def partition_keys(self) -> list[str]:
        """Every partition of the index that lists instances."""
        return [partition_name(n) for n in range(self.partitions)]

    def partition_of(self, instance_id: str) -> str:
        return partition_of(instance_id, self.partitions)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        for change in self._pending.values():
            for future in change.done:
                future.cancel()
        self._pending.clear()

    # ---- changes ------------------------------------------------------------------------------
    def record(
        self,
        instance_id: str,
        target: Listed | None,
        previous_created: Iterable[datetime | None] = (),
        *,
        new: bool = False,
        fresh: bool = False,
    ) -> asyncio.Future[None]:
        """Follow a change of the instance's row: listed as ``target`` now (``None``: purged). The
        future ends when the index holds it; it never raises (a change that cannot be written is
        logged). ``previous_created``: created times the instance had (its rows may be there); ``new``:
        the instance had no row, so it has no index rows either (none are looked for); ``fresh``: what
        the index holds is read again (a repair's check, when another process may have written it)."""
        hints = {t for t in previous_created if t is not None} | ({target.created} if target else set())
        if new and instance_id not in self._entries:
            self._remember(instance_id, None)
        return self._queue(_Change(instance_id, target, hints, fresh=fresh))

    async def backfill(self, instances: TableClient) -> int:
        """List every instance of the Instances table that the index does not list yet, then mark the
        index complete; how many were added. Safe beside writers (theirs is the newer change) and beside
        another worker's backfill."""
        added = 0
        columns = ["PartitionKey", "Name", "RuntimeStatus", "CreatedTime"]
        async with translated("Reading the Instances table to fill the instance index"):
            rows = instances.query_entities("RowKey eq ''", select=columns, results_per_page=1000)
            batch: list[asyncio.Future[None]] = []
            async for row in rows:
                instance_id, created = unescape_key(str(row["PartitionKey"])), row.get("CreatedTime")
                if not isinstance(created, datetime) or is_entity_instance(instance_id):
                    continue
                listed = Listed(
                    created, str(row.get("Name") or ""), str(row.get("RuntimeStatus") or "Pending")
                )
                batch.append(self._queue(_Change(instance_id, listed, {created}, only_if_absent=True)))
                added += 1
                if len(batch) >= 1000:
                    await asyncio.gather(*batch)
                    batch = []
            await asyncio.gather(*batch)
        async with translated("Marking the instance index complete"):
            await self.table.upsert_entity(self._meta())
        self.built = True
        return added

    def discard_stale(self, instance_id: str, created: datetime) -> asyncio.Future[None]:
        """Remove rows of the instance under ``created``, which is no longer its created time (a
        listing found them: a move whose old rows were not known to the writer)."""
        return self._queue(_Change(instance_id, None, {created}, stale_at=created))

    def _queue(self, change: _Change) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if is_entity_instance(change.instance_id):
            future.set_result(None)
            return future
        key = (change.instance_id, change.stale_at)
        queued = self._pending.setdefault(key, change)
        if queued is not change:
            if not change.only_if_absent:  # a backfill's guess never replaces a writer's change
                queued.target, queued.only_if_absent = change.target, False
            queued.hints |= change.hints
            queued.fresh |= change.fresh
        queued.done.append(future)
        self._wake.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name="instance-index")
        return future

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                groups: dict[str, list[_Change]] = {}
                for key in list(self._pending):
                    group = groups.get(self.partition_of(key[0]))
                    if group is None and len(groups) >= TRANSACTIONS_AT_ONCE:
                        continue
                    if group is None:
                        group = groups[self.partition_of(key[0])] = []
                    if len(group) < CHANGES_PER_TRANSACTION:
                        group.append(self._pending.pop(key))
                await asyncio.gather(
                    *(self._write(_one_per_instance(group, self._pending)) for group in groups.values())
                )

    async def _write(self, changes: list[_Change]) -> None:
        error: BaseException | None = None
        conflicts = outages = 0
        while conflicts < ATTEMPTS and outages < OUTAGE_ATTEMPTS:
            try:
                await self._transact(changes)
                error = None
                break
            except asyncio.CancelledError:
                raise
            except IndexConflict as exc:
                error, conflicts = exc, conflicts + 1
                self._forget(changes)
            except Exception as exc:
                error, outages = exc, outages + 1
                self._forget(changes)
                if not is_transient(exc):
                    break
                await asyncio.sleep(min(0.2 * 2**outages, 10.0))  # storage is down: wait it out a while
        if error is not None:
            names = ", ".join(f"'{c.instance_id}'" for c in changes)
            log.warning("The instance index does not follow %s yet: %s", names, error)
        for change in changes:
            for future in change.done:
                if not future.done():
                    future.set_result(None)

    def _forget(self, changes: list[_Change]) -> None:
        for change in changes:
            self._entries.pop(change.instance_id, None)
        self._counts.clear()

    async def _transact(self, changes: list[_Change]) -> None:
        """Apply changes of instances of one partition in one transaction."""
        partition = self.partition_of(changes[0].instance_id)
        entries = await asyncio.gather(*(self._entry(c) for c in changes))
        ops: list[BatchOperation] = []
        deltas: dict[str, int] = {}
        planned: list[tuple[str, _Entry | None, int]] = []  # id, what it is listed as, its d| op
        for change, entry in zip(changes, entries, strict=True):
            before = entry.listed if entry is not None else None
            if before == change.target or (change.only_if_absent and entry is not None):
                continue
            for listed, step in ((before, -1), (change.target, 1)):
                if listed is not None:
                    key = total_key(listed.status, listed.name, self.shard)
                    deltas[key] = deltas.get(key, 0) + step
            at = _plan_rows(ops, partition, change.instance_id, entry, change.target)
            if change.stale_at is not None:
                at = _STALE
            planned.append((change.instance_id, _Entry(change.target, "") if change.target else None, at))
        counted = [(key, delta) for key, delta in deltas.items() if delta]
        counts = await asyncio.gather(*(self._count(partition, key) for key, _ in counted))
        first_count = len(ops)
        for (key, delta), (value, etag) in zip(counted, counts, strict=True):
            row = {"PartitionKey": partition, "RowKey": key, "Count": value + delta}
            ops.append(BatchOperation("replace", row, etag) if etag else BatchOperation("create", row))
        if not ops:
            return
        try:
            async with translated("Updating the instance index"):
                etags = await table_batch.submit(self.table, ops, self.lean)
        except StorageError as exc:
            if getattr(exc.__cause__, "status_code", None) in (404, 409, 412):
                raise IndexConflict(str(exc)) from exc  # a row changed, appeared or went meanwhile
            raise
        for instance_id, new_entry, at in planned:
            if at == _STALE:  # the cache may have known those rows: it reads again next time
                self._entries.pop(instance_id, None)
                continue
            if new_entry is not None:
                new_entry.etag = etags[at]
            self._remember(instance_id, new_entry)
        for i, ((key, delta), (value, _)) in enumerate(zip(counted, counts, strict=True)):
            self._counts[(partition, key)] = (value + delta, etags[first_count + i])

    async def _entry(self, change: _Change) -> _Entry | None:
        """What the index holds of the instance: from this writer's cache, else read where it may be."""
        if change.instance_id in self._entries and change.stale_at is None and not change.fresh:
            self._entries.move_to_end(change.instance_id)
            return self._entries[change.instance_id]
        for created in sorted(change.hints, reverse=True):
            row = await self._read(
                self.partition_of(change.instance_id), newest_key(created, change.instance_id)
            )
            if row is not None:
                listed = Listed(
                    _time(row["CreatedTime"]), str(row.get("Name") or ""), str(row["RuntimeStatus"])
                )
                return _Entry(listed, str(row["etag"]))
        return None

    async def _count(self, partition: str, key: str) -> tuple[int, str]:
        if (partition, key) in self._counts:
            return self._counts[(partition, key)]
        row = await self._read(partition, key)
        return (0, "") if row is None else (int(row.get("Count") or 0), str(row["etag"]))

    async def _read(self, partition: str, row_key: str) -> dict[str, Any] | None:
        async with translated("Reading the instance index"):
            try:
                entity = await self.table.get_entity(partition, row_key)
            except ResourceNotFoundError:
                return None
        return dict(entity) | {"etag": entity.metadata.get("etag")}

    def _remember(self, instance_id: str, entry: _Entry | None) -> None:
        self._entries[instance_id] = entry
        self._entries.move_to_end(instance_id)
        while len(self._entries) > ENTRY_CACHE_SIZE:
            self._entries.popitem(last=False)


_STALE = -2


def _one_per_instance(
    changes: list[_Change], later: dict[tuple[str, datetime | None], _Change]
) -> list[_Change]:
    """At most one change per instance in a transaction (one may not touch a row twice): the others
    wait for the next."""
    seen: set[str] = set()
    kept: list[_Change] = []
    for change in changes:
        if change.instance_id in seen:
            newer = later.setdefault((change.instance_id, change.stale_at), change)
            if newer is not change:  # a change that came meanwhile is the newer target
                newer.hints |= change.hints
                newer.done += change.done
        else:
            seen.add(change.instance_id)
            kept.append(change)
    return kept


def _plan_rows(
    ops: list[BatchOperation], partition: str, instance_id: str, entry: _Entry | None, target: Listed | None
) -> int:
    """Add the row operations that take the instance from ``entry`` to ``target``; the index of its new
    ``d|`` row's operation (-1 when it is no longer listed)."""
    before = entry.listed if entry is not None else None
    moved = entry is not None and before is not None and (target is None or target.created != before.created)
    if entry is not None and before is not None:
        if moved:
            ops.append(
                BatchOperation(
                    "delete", _keys(partition, newest_key(before.created, instance_id)), entry.etag
                )
            )
            ops.append(
                BatchOperation("delete", _keys(partition, oldest_key(before.created, instance_id)), "*")
            )
        if moved or target is None or target.status != before.status:
            old_status = status_key(before.status, before.created, instance_id)
            ops.append(BatchOperation("delete", _keys(partition, old_status), "*"))
    if target is None:
        return -1
    row = _row(partition, instance_id, target)
    newest = {**row, "RowKey": newest_key(target.created, instance_id)}
    if entry is not None and not moved:
        ops.append(BatchOperation("replace", newest, entry.etag))
    else:
        ops.append(BatchOperation("create", newest))
    at = len(ops) - 1
    ops.append(BatchOperation("upsert", {**row, "RowKey": oldest_key(target.created, instance_id)}))
    ops.append(
        BatchOperation("upsert", {**row, "RowKey": status_key(target.status, target.created, instance_id)})
    )
    return at


def _keys(partition: str, row_key: str) -> dict[str, Any]:
    return {"PartitionKey": partition, "RowKey": row_key}


def listing_rows(partition: str, instance_id: str, listed: Listed) -> list[dict[str, Any]]:
    """The three rows that list an instance in its partition (what a change writes; a bulk load can
    write them itself, with the count rows of :func:`total_key` to match)."""
    row = _row(partition, instance_id, listed)
    keys = (
        newest_key(listed.created, instance_id),
        oldest_key(listed.created, instance_id),
        status_key(listed.status, listed.created, instance_id),
    )
    return [{**row, "RowKey": key} for key in keys]


def _row(partition: str, instance_id: str, listed: Listed) -> dict[str, Any]:
    return {
        "PartitionKey": partition,
        "InstanceId": instance_id,
        "Name": listed.name,
        "RuntimeStatus": listed.status,
        "CreatedTime": listed.created,
    }


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
