"""The schedule status a timer keeps in storage, so a worker that takes the schedule sees a missed run.

``azure-webjobs-hosts/timers/{hostId}/Host.Functions.<FunctionName>/status`` holds
``{"Last": ..., "Next": ..., "LastUpdated": ...}`` as the Functions host writes it: ISO times with the
offset of the app's time zone, and ``0001-01-01T00:00:00`` for a ``Last`` that never happened.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from durable_ext.azurestorage.clients import retry_transient

from ..singleton import HOSTS_CONTAINER
from .schedule import Schedule

log = logging.getLogger("durable_ext.bindings.timer")

NEVER = "0001-01-01T00:00:00"
"""How the Functions host writes a time that is not set (.NET ``default(DateTime)``)."""

_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def format_time(moment: datetime | None, zone: tzinfo) -> str:
    return NEVER if moment is None else moment.astimezone(zone).isoformat()


def parse_time(text: object, zone: tzinfo) -> datetime | None:
    """A status time (UTC), None for the unset time; ValueError if it is not a time."""
    if not isinstance(text, str) or not text or text.startswith("0001-01-01"):
        return None
    moment = datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text.strip()))  # .NET writes 7 digits
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class ScheduleStatus:
    """When the timer last ran, when it runs next, and when this was written (aware UTC times)."""

    last: datetime | None
    next: datetime
    last_updated: datetime

    def to_json(self, zone: tzinfo) -> dict[str, str]:
        return {
            "Last": format_time(self.last, zone),
            "Next": format_time(self.next, zone),
            "LastUpdated": format_time(self.last_updated, zone),
        }

    @classmethod
    def from_json(cls, data: object, zone: tzinfo, now: datetime) -> ScheduleStatus | None:
        """The status in ``data``; None when it has no ``Next`` (it is then written afresh)."""
        if not isinstance(data, dict):
            raise ValueError("the status is not a JSON object")
        upcoming = parse_time(data.get("Next"), zone)
        if upcoming is None:
            return None
        updated = parse_time(data.get("LastUpdated"), zone) or now
        return cls(parse_time(data.get("Last"), zone), upcoming, updated)


def after_run(schedule: Schedule, fired: datetime) -> ScheduleStatus:
    """The status once a run that fired at ``fired`` is done: the next occurrence is counted from it."""
    return ScheduleStatus(fired, schedule.next_after(fired), fired)


def check_past_due(
    schedule: Schedule, status: ScheduleStatus | None, now: datetime
) -> tuple[ScheduleStatus, bool, bool]:
    """The status to go on with, whether an occurrence was missed, and whether the status changed.

    No status yet: the next occurrence from now. A status whose ``Next`` is not what the schedule gives
    after its ``Last`` (or ``LastUpdated``) was written for another schedule: it starts afresh from that
    time, or from now if that is past. Otherwise an occurrence was missed iff ``Next`` has passed: one
    run makes up for however many were.
    """
    if status is None:
        return ScheduleStatus(None, schedule.next_after(now), now), False, True
    expected = schedule.next_after(status.last or status.last_updated)
    if status.next != expected:
        upcoming = expected if expected > now else schedule.next_after(now)
        return ScheduleStatus(None, upcoming, now), False, True
    return status, now > status.next, False


class ScheduleMonitor:
    """Reads and writes one timer's status blob."""

    def __init__(
        self, blobs: BlobServiceClient, host_id: str, function_name: str, zone: tzinfo = UTC
    ) -> None:
        self.blob_name = f"timers/{host_id}/Host.Functions.{function_name}/status"
        self._blob = blobs.get_blob_client(HOSTS_CONTAINER, self.blob_name)
        self._container = blobs.get_container_client(HOSTS_CONTAINER)
        self._zone = zone

    async def read(self, now: datetime) -> ScheduleStatus | None:
        async def download() -> bytes | None:
            try:
                return await (await self._blob.download_blob()).readall()
            except ResourceNotFoundError:
                return None

        raw = await retry_transient(download, f"Reading the schedule status {self.blob_name}")
        if raw is None:
            return None
        try:
            return ScheduleStatus.from_json(json.loads(raw), self._zone, now)
        except ValueError as exc:
            log.warning("The schedule status %s is not valid (%s); starting afresh", self.blob_name, exc)
            return None

    async def write(self, status: ScheduleStatus) -> None:
        """Write ``status``; a failure is logged, not raised (the schedule goes on), as on Azure."""
        body = json.dumps(status.to_json(self._zone), separators=(",", ":"))
        try:
            try:
                await self._blob.upload_blob(body, overwrite=True)
            except ResourceNotFoundError:
                with contextlib.suppress(ResourceExistsError):
                    await self._container.create_container()
                await self._blob.upload_blob(body, overwrite=True)
        except (AzureError, OSError) as exc:
            log.warning("Could not write the schedule status %s: %s", self.blob_name, exc)
