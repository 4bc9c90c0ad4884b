"""Purging instances: history rows, the Instances row and large-message blobs
(``DeleteAllDataForOrchestrationInstance``), one instance or every finished one in a range."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from ..core.queries import InstanceQuery, purgeable_statuses
from .clients import translated
from .history_store import HistoryStore
from .instance_queries import query_page
from .instance_store import InstanceStore
from .names import escape_key

log = logging.getLogger("durable_ext.purge")

PURGE_PAGE_SIZE = 100
MAX_CONCURRENT_PURGES = 8


class InstancePurger:
    def __init__(
        self,
        history: HistoryStore,
        instances: InstanceStore,
        blobs: BlobServiceClient,
        large_messages_container: str,
    ) -> None:
        self.history = history
        self.instances = instances
        self.blobs = blobs
        self.container = large_messages_container

    async def purge_one(self, instance_id: str) -> int:
        """1 if the instance existed and is gone now, 0 if there was no such instance.

        The Instances row goes last, so a purge that fails half-way can simply be repeated.
        """
        row = await self.instances.get_row(instance_id)
        if row is None:
            return 0
        await asyncio.gather(self.history.delete_instance(instance_id), self.delete_blobs(instance_id))
        return 1 if await self.instances.delete(instance_id, row.get("CreatedTime")) else 0

    async def purge_many(self, query: InstanceQuery) -> int:
        """Purge every finished instance the query matches; non-terminal statuses are never purged."""
        statuses = purgeable_statuses(query.statuses)
        if not statuses:
            return 0
        page_query = replace(
            query, statuses=statuses, show_input=False, page_size=PURGE_PAGE_SIZE, continuation_token=None
        )
        limit = asyncio.Semaphore(MAX_CONCURRENT_PURGES)

        async def purge(instance_id: str) -> int:
            async with limit:
                return await self.purge_one(instance_id)

        deleted = 0
        while True:
            page = await query_page(self.instances.table, page_query)
            counts = await asyncio.gather(*(purge(state.instance_id) for state in page.states))
            deleted += sum(counts)
            if page.continuation_token is None:
                return deleted
            page_query = replace(page_query, continuation_token=page.continuation_token)

    async def delete_blobs(self, instance_id: str) -> int:
        """Delete the instance's blobs in the large-messages container (which may not exist).

        Message blobs are named after the raw instance id, history blobs after the escaped one.
        """
        container = self.blobs.get_container_client(self.container)
        deleted = 0
        for prefix in sorted({f"{instance_id}/", f"{escape_key(instance_id)}/"}):
            async with translated(f"Deleting the large-message blobs of instance '{instance_id}'"):
                try:
                    names = [blob.name async for blob in container.list_blobs(name_starts_with=prefix)]
                except ResourceNotFoundError:
                    return 0  # no container: nothing was ever offloaded
                for name in names:
                    with contextlib.suppress(ResourceNotFoundError):
                        await container.delete_blob(name)
                        deleted += 1
        if deleted:
            log.info("Deleted %d large-message blobs of instance '%s'", deleted, instance_id)
        return deleted
