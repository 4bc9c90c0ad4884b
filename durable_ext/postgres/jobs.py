"""The PostgreSQL provider's bulk jobs (``core.jobs``): one row each in ``Jobs``, versioned for
conditional saves."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import asyncpg

from ..core.jobs import Job
from ..errors import ConcurrencyConflictError, InstanceAlreadyExistsError

Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


class PostgresJobStore:
    def __init__(self, connect: Connect, schema: str, hub: str) -> None:
        self.connect = connect
        self.table = f"{schema}.Jobs"
        self.hub = hub

    async def create(self, job: Job) -> str:
        async with self.connect() as conn:
            row = await conn.fetchrow(
                f"INSERT INTO {self.table} (TaskHub, JobID, Body) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING RETURNING Version",
                self.hub,
                job.id,
                job.to_json(),
            )
        if row is None:
            raise InstanceAlreadyExistsError(job.id, "a job")
        return str(row["version"])

    async def get(self, job_id: str) -> Job | None:
        async with self.connect() as conn:
            row = await conn.fetchrow(
                f"SELECT Body, Version FROM {self.table} WHERE TaskHub = $1 AND JobID = $2", self.hub, job_id
            )
        return None if row is None else Job.from_json(row["body"], str(row["version"]))

    async def list(self) -> list[Job]:
        async with self.connect() as conn:
            rows = await conn.fetch(f"SELECT Body, Version FROM {self.table} WHERE TaskHub = $1", self.hub)
        return [Job.from_json(row["body"], str(row["version"])) for row in rows]

    async def save(self, job: Job) -> str:
        async with self.connect() as conn:
            row = await conn.fetchrow(
                f"UPDATE {self.table} SET Body = $3, Version = Version + 1 "
                "WHERE TaskHub = $1 AND JobID = $2 AND Version = $4 RETURNING Version",
                self.hub,
                job.id,
                job.to_json(),
                int(job.etag or -1),
            )
        if row is None:
            raise ConcurrencyConflictError(f"The job '{job.id}' was changed by another writer.")
        return str(row["version"])

    async def delete(self, job_id: str) -> None:
        async with self.connect() as conn:
            await conn.execute(
                f"DELETE FROM {self.table} WHERE TaskHub = $1 AND JobID = $2", self.hub, job_id
            )
