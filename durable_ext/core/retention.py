"""The retention rule of ``host.json`` (``extensions.durableTask.retention``): finished instances created
more than ``purgeFinishedAfterDays`` days ago are purged, by a purge job (``core.jobs``).

Every worker checks every ``checkIntervalMinutes``; the job of each interval has an id derived from the
hub and the interval, so however many workers check, one job is written, and one worker runs it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from ..errors import InstanceAlreadyExistsError
from .background_loop import BackgroundLoop
from .client import TaskHubClient
from .history import TERMINAL_STATUSES
from .jobs import Job, JobRunner, Operation, create_job
from .queries import InstanceQuery

log = logging.getLogger("durable_ext.retention")


class Retention:
    def __init__(self, runner: JobRunner, hub_name: str, days: int, interval_s: float) -> None:
        self.runner = runner
        self.hub_name = hub_name
        self.days = days
        self.interval_s = interval_s
        self._loop = BackgroundLoop("retention", self.check, interval_s, "The retention check")

    def query(self, now: datetime) -> InstanceQuery:
        return InstanceQuery(created_to=now - timedelta(days=self.days), statuses=TERMINAL_STATUSES)

    def job_id(self, now: datetime) -> str:
        period = int(now.timestamp() // self.interval_s)
        return uuid.uuid5(uuid.NAMESPACE_URL, f"durable-ext retention {self.hub_name.lower()} {period}").hex

    async def check(self, now: datetime | None = None) -> Job | None:
        """Write this interval's purge job if something is due and no worker wrote it yet."""
        now = now or datetime.now(UTC)
        client: TaskHubClient = self.runner.client
        query = self.query(now)
        if not sum((await client.count(query)).values()):
            return None
        reason = f"retention: finished and created more than {self.days} days ago"
        try:
            job = await create_job(
                self.runner.store, client, Operation.PURGE, query, reason, self.job_id(now)
            )
        except InstanceAlreadyExistsError:
            return None  # another worker wrote it first
        log.info("Retention: purging %d finished instances created before %s", job.matched, query.created_to)
        self.runner.wake()
        return job

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
