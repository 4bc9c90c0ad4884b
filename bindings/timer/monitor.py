"""The schedule status a timer keeps in storage, so a restart sees an occurrence it missed.

``azure-webjobs-hosts/timers/{hostId}/Host.Functions.<FunctionName>/status`` holds
``{"Last": ..., "Next": ..., "LastUpdated": ...}``, as the Functions host writes it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from ..singleton import HOSTS_CONTAINER

log = logging.getLogger("durable_ext.bindings.timer")


@dataclass(frozen=True)
class ScheduleStatus:
    last: datetime | None
    next: datetime | None
    last_updated: datetime | None

    def to_json(self) -> dict[str, str | None]:
        def text(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {"Last": text(self.last), "Next": text(self.next), "LastUpdated": text(self.last_updated)}

    @classmethod
    def from_json(cls, data: dict[str, str | None]) -> ScheduleStatus:
        def moment(key: str) -> datetime | None:
            value = data.get(key)
            if not value or value.startswith("0001-01-01"):
                return None
            return datetime.fromisoformat(value)

        return cls(moment("Last"), moment("Next"), moment("LastUpdated"))


class ScheduleMonitor:
    def __init__(self, blobs: BlobServiceClient, host_id: str, function_name: str) -> None:
        self._blob = blobs.get_blob_client(
            HOSTS_CONTAINER, f"timers/{host_id}/Host.Functions.{function_name}/status"
        )
        self._container = blobs.get_container_client(HOSTS_CONTAINER)

    async def read(self) -> ScheduleStatus | None:
        try:
            raw = await (await self._blob.download_blob()).readall()
        except ResourceNotFoundError:
            return None
        try:
            return ScheduleStatus.from_json(json.loads(raw))
        except (ValueError, TypeError, AttributeError):
            log.warning(
                "The schedule status %s is not valid; starting the schedule afresh", self._blob.blob_name
            )
            return None

    async def write(self, status: ScheduleStatus) -> None:
        body = json.dumps(status.to_json(), separators=(",", ":"))
        try:
            try:
                await self._blob.upload_blob(body, overwrite=True)
            except ResourceNotFoundError:
                with contextlib.suppress(ResourceExistsError):
                    await self._container.create_container()
                await self._blob.upload_blob(body, overwrite=True)
        except AzureError as exc:  # as on Azure: a status that cannot be written is logged, not fatal
            log.warning("Could not write the schedule status %s: %s", self._blob.blob_name, exc)
