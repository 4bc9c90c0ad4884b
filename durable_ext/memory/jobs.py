"""The memory provider's bulk jobs (``core.jobs``): kept with the hub, in this process."""

from __future__ import annotations

import uuid

from ..core.jobs import Job
from ..errors import ConcurrencyConflictError, InstanceAlreadyExistsError


class MemoryJobStore:
    def __init__(self) -> None:
        self._jobs: dict[str, tuple[str, str]] = {}
        """Each job's JSON and ETag."""

    async def create(self, job: Job) -> str:
        if job.id in self._jobs:
            raise InstanceAlreadyExistsError(job.id, self._status(job.id))
        return self._put(job)

    async def get(self, job_id: str) -> Job | None:
        stored = self._jobs.get(job_id)
        return None if stored is None else Job.from_json(*stored)

    async def list(self) -> list[Job]:
        return [Job.from_json(*stored) for stored in self._jobs.values()]

    async def save(self, job: Job) -> str:
        stored = self._jobs.get(job.id)
        if stored is None or stored[1] != job.etag:
            raise ConcurrencyConflictError(f"The job '{job.id}' was changed by another writer.")
        return self._put(job)

    async def delete(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    def _put(self, job: Job) -> str:
        etag = uuid.uuid4().hex
        self._jobs[job.id] = (job.to_json(), etag)
        return etag

    def _status(self, job_id: str) -> str:
        return Job.from_json(*self._jobs[job_id]).status.value
