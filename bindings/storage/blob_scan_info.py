"""Where the blob scan of one container has got to, kept across restarts and shared by the app's workers.

The cursor is the newest ``Last-Modified`` a complete pass over the container saw; the next pass only
looks at blobs modified at or after it (at, because listing times have one-second resolution). It is
stored as ``{"LatestScan": "<time>"}`` in the host account's
``azure-webjobs-hosts/blobscaninfo/{hostId}/{account}/{container}/scanInfo``, as the Functions host
stores it. No cursor means every blob in the container is looked at (receipts skip those handled).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from durable_ext.azurestorage.clients import translated

from .blob_output import upload_creating_container
from .blob_paths import BlobPath
from .blob_receipts import HOSTS_CONTAINER

log = logging.getLogger("durable_ext.blob_trigger")


class ScanInfo:
    """The stored cursor of one watched container."""

    def __init__(self, hosts: BlobServiceClient, host_id: str, account: str, container: str) -> None:
        self._hosts = hosts
        self.path = BlobPath(HOSTS_CONTAINER, f"blobscaninfo/{host_id}/{account}/{container}/scanInfo")

    async def read(self) -> datetime | None:
        client = self._hosts.get_blob_client(self.path.container, self.path.name)
        async with translated(f"Reading blob '{self.path}'"):
            try:
                content = await (await client.download_blob()).readall()
            except ResourceNotFoundError:
                return None
        try:
            return datetime.fromisoformat(str(json.loads(content)["LatestScan"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "Ignoring blob scan cursor '%s' (%s); the container is scanned from the start.",
                self.path,
                exc,
            )
            return None

    async def write(self, latest: datetime) -> None:
        body = json.dumps({"LatestScan": latest.isoformat()}).encode("utf-8")
        await upload_creating_container(self._hosts, self.path, body)
