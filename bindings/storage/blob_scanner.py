"""Finds the new and changed blobs of one container and queues one trigger message per blob version.

Every ``scanInterval`` the scanner lists the container (one page of up to 5,000 blobs a round, names
starting with the literal start its patterns share) and looks at the blobs modified at or after its
cursor (:mod:`blob_scan_info`). A blob a blob output of this process has just written is looked at at
once (:mod:`blob_watch`). For each blob and each function whose pattern matches, the receipt
(:mod:`blob_receipts`) makes sure the message is queued once, whichever worker sees the blob first. Once
a whole pass is done the cursor moves to the newest modification time seen, or stays at the oldest blob
that could not be handled yet (another worker held its receipt, or storage failed), and is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import cast

from azure.core.async_paging import AsyncPageIterator
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobProperties
from azure.storage.blob.aio import BlobServiceClient

from durable_ext.azurestorage.clients import translated

from .blob_data import blob_type_name, quoted_etag
from .blob_paths import BlobPath, BlobPattern
from .blob_receipts import BlobReceipts
from .blob_scan_info import ScanInfo
from .blob_trigger_messages import BlobTriggerMessage

log = logging.getLogger("durable_ext.blob_trigger")

PAGE_SIZE = 5000
CONCURRENT_RECEIPTS = 16

Enqueue = Callable[[BlobTriggerMessage], Awaitable[None]]


def common_prefix(prefixes: Iterable[str]) -> str:
    """The longest start all ``prefixes`` share."""
    found: str | None = None
    for prefix in prefixes:
        if found is None:
            found = prefix
            continue
        length = 0
        while length < min(len(found), len(prefix)) and found[length] == prefix[length]:
            length += 1
        found = found[:length]
    return found or ""


class ContainerScanner:
    """Watches one container of one account for the blob trigger functions registered on it."""

    def __init__(
        self,
        *,
        blobs: BlobServiceClient,
        container: str,
        scan_info: ScanInfo,
        receipts: BlobReceipts,
        enqueue: Enqueue,
        interval_s: float,
    ) -> None:
        self.container = container
        self._blobs = blobs
        self._scan_info = scan_info
        self._receipts = receipts
        self._enqueue = enqueue
        self._interval_s = interval_s
        self._patterns: dict[str, BlobPattern] = {}
        """The watching functions, by function id."""
        self._cursor: datetime | None = None
        self._cursor_loaded = False
        self._token: str | None = None
        self._sweep_newest: datetime | None = None
        self._sweep_oldest_pending: datetime | None = None
        self._handled: dict[tuple[str, str, str], datetime] = {}
        """(function id, etag, blob name) known complete, with the blob's modification time."""
        self._notified: set[str] = set()
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(CONCURRENT_RECEIPTS)
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ registration

    def add(self, function_id: str, pattern: BlobPattern) -> None:
        self._patterns[function_id] = pattern
        self._token = None  # a new function starts a new pass (with the prefix all functions share)

    def remove(self, function_id: str) -> bool:
        """Stop watching for ``function_id``; True when no function is left."""
        self._patterns.pop(function_id, None)
        return not self._patterns

    def written(self, name: str) -> None:
        """Look at blob ``name`` of this container at once (it was just written, or changed)."""
        self._notified.add(name)
        self._wake.set()

    # ------------------------------------------------------------------ loop

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"blob scan {self.container}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.scan_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Scanning container '%s' for blob triggers failed: %s", self.container, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval_s)
            self._wake.clear()

    async def scan_once(self) -> None:
        """Look at the blobs just written, then at one page of the container's listing."""
        if not self._cursor_loaded:
            self._cursor = await self._scan_info.read()
            self._cursor_loaded = True
        await self._look_at_notified()
        await self._scan_page()

    async def _look_at_notified(self) -> None:
        names, self._notified = self._notified, set()
        for name in names:
            client = self._blobs.get_blob_client(self.container, name)
            async with translated(f"Reading the properties of blob '{self.container}/{name}'"):
                try:
                    props = await client.get_blob_properties()
                except ResourceNotFoundError:
                    continue
            props.name = name
            await self._offer(props)

    async def _scan_page(self) -> None:
        container = self._blobs.get_container_client(self.container)
        prefix = common_prefix(p.prefix for p in self._patterns.values())
        listing = container.list_blobs(
            name_starts_with=prefix or None, include=["metadata"], results_per_page=PAGE_SIZE
        )
        pages = cast(AsyncPageIterator[BlobProperties], listing.by_page(continuation_token=self._token))
        items: list[BlobProperties] = []
        async with translated(f"Listing container '{self.container}'"):
            try:
                page = await pages.__anext__()
                items = [blob async for blob in page]
                self._token = pages.continuation_token or None
            except (StopAsyncIteration, ResourceNotFoundError):  # empty, or not created yet
                self._token = None
        cursor = self._cursor
        candidates = [b for b in items if cursor is None or b.last_modified >= cursor]
        for blob in items:
            self._sweep_newest = _later(self._sweep_newest, blob.last_modified)
        outcomes = await asyncio.gather(*(self._offer(blob) for blob in candidates))
        for blob, handled in zip(candidates, outcomes, strict=True):
            if not handled:
                self._sweep_oldest_pending = _earlier(self._sweep_oldest_pending, blob.last_modified)
        if self._token is None:
            await self._end_sweep()

    async def _end_sweep(self) -> None:
        newest, pending = self._sweep_newest, self._sweep_oldest_pending
        self._sweep_newest = self._sweep_oldest_pending = None
        moved = pending if pending is not None else newest
        if moved is None or moved == self._cursor or (self._cursor is not None and moved < self._cursor):
            return
        self._cursor = moved
        self._handled = {key: when for key, when in self._handled.items() if when >= moved}
        try:
            await self._scan_info.write(moved)
        except Exception as exc:
            log.warning("Storing the blob scan cursor of container '%s' failed: %s", self.container, exc)

    async def _offer(self, blob: BlobProperties) -> bool:
        """Queue a message for every function that matches ``blob`` and has not had this version.

        False if a function's receipt could not be settled now (the blob is looked at again later).
        """
        path = BlobPath(self.container, str(blob.name))
        etag = quoted_etag(str(blob.etag))
        handled = True
        for function_id, pattern in list(self._patterns.items()):
            key = (function_id, etag, path.name)
            if key in self._handled or pattern.match(path.container, path.name) is None:
                continue
            message = BlobTriggerMessage(function_id, blob_type_name(blob), path.container, path.name, etag)
            try:
                async with self._limit:
                    enqueue = functools.partial(self._enqueue, message)
                    done = await self._receipts.handle_once(function_id, etag, path, enqueue)
            except Exception as exc:
                log.warning("Queuing blob '%s' for %s failed (it is tried again): %s", path, function_id, exc)
                done = False
            if done:
                self._handled[key] = blob.last_modified
            handled = handled and done
        return handled


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _earlier(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a
