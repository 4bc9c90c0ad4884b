"""The Azure Storage provider's bulk jobs (``core.jobs``): one row each in the ``jobs`` partition of the
instance index table (durable-ext's own), saved on its ETag."""

from __future__ import annotations

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from ..core.jobs import Job
from ..errors import ConcurrencyConflictError, InstanceAlreadyExistsError
from .clients import translated

PARTITION = "jobs"


class AzureJobStore:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    async def create(self, job: Job) -> str:
        async with translated(f"Creating job '{job.id}'"):
            try:
                answer = await self.table.create_entity(self._row(job))
            except ResourceExistsError:
                raise InstanceAlreadyExistsError(job.id, "a job") from None
        return str(answer["etag"])

    async def get(self, job_id: str) -> Job | None:
        async with translated(f"Reading job '{job_id}'"):
            try:
                entity = await self.table.get_entity(PARTITION, job_id)
            except ResourceNotFoundError:
                return None
        return Job.from_json(str(entity["Body"]), entity.metadata.get("etag"))

    async def list(self) -> list[Job]:
        async with translated("Listing jobs"):
            rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": PARTITION})
            return [Job.from_json(str(row["Body"]), row.metadata.get("etag")) async for row in rows]

    async def save(self, job: Job) -> str:
        async with translated(f"Saving job '{job.id}'"):
            try:
                answer = await self.table.update_entity(
                    self._row(job),
                    mode=UpdateMode.REPLACE,
                    etag=job.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                raise ConcurrencyConflictError(f"The job '{job.id}' was changed by another writer.") from None
        return str(answer["etag"])

    async def delete(self, job_id: str) -> None:
        async with translated(f"Deleting job '{job_id}'"):
            await self.table.delete_entity(PARTITION, job_id)

    @staticmethod
    def _row(job: Job) -> dict[str, str]:
        return {"PartitionKey": PARTITION, "RowKey": job.id, "Body": job.to_json()}
