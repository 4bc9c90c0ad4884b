"""Payloads too large for a queue message or a table property, kept gzip-compressed in blobs.

Thresholds and names follow DurableTask.AzureStorage: a message whose JSON is over 45 KiB goes to
``{instanceId}/message-{activityId}-{EventType}.json.gz`` and the queue gets a pointer to it; a table
property over 60 KiB (UTF-16) goes to ``{key}/history-{RowKey}-{EventType}-{random}-{Prop}.json.gz``
and the row keeps ``""`` plus ``<Prop>BlobName`` (History) or the blob's absolute URL (Instances).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import secrets
from urllib.parse import unquote

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob.aio import BlobServiceClient

from .clients import translated

MAX_MESSAGE_BYTES = 45 * 1024
MAX_PROPERTY_UTF16_BYTES = 60 * 1024


def message_too_large(body: str) -> bool:
    return len(body.encode("utf-8")) > MAX_MESSAGE_BYTES


def property_too_large(value: str) -> bool:
    return len(value.encode("utf-16-le")) > MAX_PROPERTY_UTF16_BYTES


def message_blob_name(instance_id: str, activity_id: str, event_type: str) -> str:
    return f"{instance_id}/message-{activity_id.replace('-', '')}-{event_type}.json.gz"


def property_blob_name(key: str, row_key: str, event_type: str, prop: str) -> str:
    return f"{key}/history-{row_key}-{event_type}-{secrets.token_hex(4).upper()}-{prop}.json.gz"


class LargePayloads:
    def __init__(self, blobs: BlobServiceClient, container: str) -> None:
        self.container = blobs.get_container_client(container)
        self._created = False
        self._lock = asyncio.Lock()

    @property
    def container_url(self) -> str:
        return str(self.container.url).rstrip("/")

    def url(self, blob_name: str) -> str:
        return f"{self.container_url}/{blob_name}"

    def blob_name_of(self, value: object) -> str | None:
        """The blob name when ``value`` is the URL of one of our blobs, else None."""
        prefix = self.container_url + "/"
        if isinstance(value, str) and value.startswith(prefix):
            return unquote(value[len(prefix) :])
        return None

    async def _ensure_container(self) -> None:
        async with self._lock:
            if not self._created:
                async with translated(f"Creating blob container '{self.container.container_name}'"):
                    with contextlib.suppress(ResourceExistsError):
                        await self.container.create_container()
                self._created = True

    async def upload(self, blob_name: str, text: str) -> None:
        await self._ensure_container()
        data = gzip.compress(text.encode("utf-8"))
        async with translated(f"Uploading large payload '{blob_name}'"):
            await self.container.upload_blob(blob_name, data, overwrite=True)

    async def download(self, blob_name: str) -> str:
        async with translated(f"Downloading large payload '{blob_name}'"):
            stream = await self.container.download_blob(blob_name)
            data = await stream.readall()
        return gzip.decompress(data).decode("utf-8")
