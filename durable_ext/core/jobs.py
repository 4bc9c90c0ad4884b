"""Bulk operations: terminate, suspend, resume, rewind, restart or purge every instance a query matches.

A job is one record in the task hub (:class:`JobStore`, one per provider), so it outlives the process
that created it and the worker that runs it. A worker runs a job while it holds its lease (a time in
the record, renewed with each page), page by page in instance-id order: before acting on a page it
writes the page's ids and the cursor after them; after, the counts and the failures. A worker that
takes over a job whose page was in flight checks each of those instances before acting again, so no
instance is acted on twice; a restart's new instance has an id derived from the job and the instance,
so a second start of it is seen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from ..errors import (
    ConcurrencyConflictError,
    DurableExtError,
    InstanceAlreadyExistsError,
    InstanceNotFoundError,
    InstanceStateError,
)
from .background_loop import BackgroundLoop
from .client import TaskHubClient
from .history import OrchestrationStatus
from .queries import InstanceOrder, InstanceQuery

log = logging.getLogger("durable_ext.jobs")

PAGE_SIZE = 100
LEASE = timedelta(seconds=60)
MAX_FAILURES_KEPT = 50
POLL_S = 60.0
"""How often an idle worker looks for jobs another process wrote (one read; the API that writes a job
wakes its own worker at once, and the CLI runs its job itself)."""
KEPT = timedelta(days=7)
"""How long a job that ended stays listed."""
S = OrchestrationStatus


class Operation(Enum):
    TERMINATE = "terminate"
    SUSPEND = "suspend"
    RESUME = "resume"
    REWIND = "rewind"
    RESTART = "restart"
    PURGE = "purge"

    @classmethod
    def parse(cls, text: str) -> Operation:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(
                f"The operation '{text}' is not one of: {', '.join(o.value for o in cls)}."
            ) from None


class JobStatus(Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    CANCELING = "Canceling"
    CANCELED = "Canceled"
    COMPLETED = "Completed"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.CANCELED, JobStatus.COMPLETED)


@dataclass
class Job:
    id: str
    operation: Operation
    query: InstanceQuery
    reason: str | None = None
    status: JobStatus = JobStatus.PENDING
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    matched: int = 0
    done: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    """The first failures (instance id and reason); ``failed`` counts them all."""
    cursor: str | None = None
    """The continuation token after the last page started (``None``: from the first page)."""
    last_page: bool = False
    """The page started was the query's last: once it is done, so is the job."""
    in_flight: list[str] = field(default_factory=list)
    """Ids of the page being acted on: checked before acting again after a takeover."""
    owner: str | None = None
    lease_until: datetime | None = None
    etag: str | None = None

    def to_json(self) -> str:
        body = asdict(self)
        body.pop("etag")
        body["operation"], body["status"] = self.operation.value, self.status.value
        body["query"] = query_to_json(self.query)
        for name in ("created", "updated", "lease_until"):
            value = getattr(self, name)
            body[name] = value.isoformat() if value else None
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, etag: str | None = None) -> Job:
        body = json.loads(text)
        body["operation"], body["status"] = Operation(body["operation"]), JobStatus(body["status"])
        body["query"] = query_from_json(body["query"])
        for name in ("created", "updated", "lease_until"):
            body[name] = datetime.fromisoformat(body[name]) if body.get(name) else None
        return cls(**body, etag=etag)

    def view(self) -> dict[str, Any]:
        """What the API shows of the job."""
        return {
            "id": self.id,
            "operation": self.operation.value,
            "status": self.status.value,
            "query": query_to_json(self.query),
            "reason": self.reason,
            "createdTime": self.created.isoformat(),
            "lastUpdatedTime": self.updated.isoformat(),
            "matched": self.matched,
            "done": self.done,
            "failed": self.failed,
            "failures": self.failures,
        }


def query_to_json(query: InstanceQuery) -> dict[str, Any]:
    return {
        "createdTimeFrom": query.created_from.isoformat() if query.created_from else None,
        "createdTimeTo": query.created_to.isoformat() if query.created_to else None,
        "runtimeStatus": sorted(s.name for s in query.statuses),
        "instanceIdPrefix": query.instance_id_prefix,
        "name": query.name,
        "customStatusContains": query.custom_status_contains,
        "inputContains": query.input_contains,
    }


def query_from_json(body: dict[str, Any]) -> InstanceQuery:
    def time(name: str) -> datetime | None:
        return datetime.fromisoformat(body[name]) if body.get(name) else None

    return InstanceQuery(
        created_from=time("createdTimeFrom"),
        created_to=time("createdTimeTo"),
        statuses=frozenset(OrchestrationStatus[n] for n in body.get("runtimeStatus") or []),
        instance_id_prefix=body.get("instanceIdPrefix"),
        name=body.get("name"),
        custom_status_contains=body.get("customStatusContains"),
        input_contains=body.get("inputContains"),
    )


class JobStore(Protocol):
    """Where a provider keeps the hub's jobs. ``save`` is conditional on the job's ``etag`` (a
    :class:`~durable_ext.errors.ConcurrencyConflictError` when another writer changed it) and returns
    the new one; ``create`` raises ``InstanceAlreadyExistsError`` for an id in use."""

    async def create(self, job: Job) -> str: ...

    async def get(self, job_id: str) -> Job | None: ...

    async def list(self) -> list[Job]: ...

    async def save(self, job: Job) -> str: ...

    async def delete(self, job_id: str) -> None: ...


def restarted_id(job_id: str, instance_id: str) -> str:
    """The id a job's restart gives the instance's new run: the same on every try."""
    return uuid.uuid5(uuid.UUID(job_id), instance_id).hex


async def create_job(
    store: JobStore,
    client: TaskHubClient,
    operation: Operation,
    query: InstanceQuery,
    reason: str | None,
    job_id: str | None = None,
) -> Job:
    """Write a new job (``job_id``: a given one, which a second writer then fails to create)."""
    counts = await client.count(query)
    job = Job(job_id or uuid.uuid4().hex, operation, _listing(query), reason, matched=sum(counts.values()))
    job.etag = await store.create(job)
    return job


async def cancel_job(store: JobStore, job_id: str) -> Job:
    """Ask the job to stop after the instance it is acting on; a job not started yet stops at once."""
    for _ in range(10):
        job = await store.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        if job.status.is_final or job.status is JobStatus.CANCELING:
            return job
        job.status = JobStatus.CANCELED if job.status is JobStatus.PENDING else JobStatus.CANCELING
        job.updated = datetime.now(UTC)
        try:
            job.etag = await store.save(job)
            return job
        except ConcurrencyConflictError:
            await asyncio.sleep(0.05)  # the runner saved it meanwhile: read it again
    raise DurableExtError(f"The job '{job_id}' kept changing; try cancelling it again.")


class JobNotFoundError(DurableExtError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job with ID '{job_id}' exists in this task hub.")
        self.job_id = job_id


def _listing(query: InstanceQuery) -> InstanceQuery:
    """The job's own query: its filters, in id order (a cursor that instances changing status or going
    away cannot disturb), without inputs."""
    return replace(
        query, order=InstanceOrder.ID, page_size=PAGE_SIZE, continuation_token=None, show_input=False
    )


Act = Callable[[TaskHubClient, Job, str], Awaitable[None]]


async def _restart(client: TaskHubClient, job: Job, instance_id: str) -> None:
    target = restarted_id(job.id, instance_id)
    if await client.get_state(target) is None:
        await client.restart(instance_id, target_id=target)


async def _purge(client: TaskHubClient, _: Job, instance_id: str) -> None:
    await client.purge(instance_id)


ACTIONS: dict[Operation, Act] = {
    Operation.TERMINATE: lambda c, j, i: c.terminate(i, j.reason),
    Operation.SUSPEND: lambda c, j, i: c.suspend(i, j.reason),
    Operation.RESUME: lambda c, j, i: c.resume(i, j.reason),
    Operation.REWIND: lambda c, j, i: c.rewind(i, j.reason),
    Operation.RESTART: _restart,
    Operation.PURGE: _purge,
}
ALREADY = {
    Operation.TERMINATE: {S.Terminated},
    Operation.SUSPEND: {S.Suspended},
    Operation.RESUME: {S.Running},
    Operation.REWIND: {S.Running, S.Pending, S.Completed},
}
"""Statuses an in-flight instance may show because the job acted on it before its worker stopped."""


class JobRunner:
    """Runs the hub's jobs in this worker, one at a time, while it holds their lease."""

    def __init__(self, store: JobStore, client: TaskHubClient, owner: str, poll_s: float = POLL_S) -> None:
        self.store = store
        self.client = client
        self.owner = owner
        self.poll_s = poll_s
        self._loop = BackgroundLoop("jobs", self._run_all, poll_s, "Running bulk jobs")

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run_all(self) -> None:
        while await self.run_one():
            pass

    async def run_one(self) -> bool:
        """Take one job that needs a worker and run it to its end; False when there was none."""
        now = datetime.now(UTC)
        for job in sorted(await self.store.list(), key=lambda j: j.created):
            if job.status.is_final and job.updated < now - KEPT:
                await self.store.delete(job.id)
                continue
            if job.status.is_final or (
                job.lease_until is not None and job.lease_until > now and job.owner != self.owner
            ):
                continue
            claimed = await self._claim(job)
            if claimed is not None:
                await self._run(claimed)
                return True
        return False

    async def run_job(self, job_id: str, on_progress: Callable[[Job], None] | None = None) -> Job:
        """Run this one job here, or wait while another worker runs it; the job once it has ended."""
        while True:
            job = await self.store.get(job_id)
            if job is None:
                raise JobNotFoundError(job_id)
            if job.status.is_final:
                return job
            held = (
                job.lease_until is not None
                and job.lease_until > datetime.now(UTC)
                and job.owner != self.owner
            )
            claimed = None if held else await self._claim(job)
            if claimed is not None:
                await self._run(claimed)
                continue
            if on_progress is not None:
                on_progress(job)
            await asyncio.sleep(self.poll_s)

    async def _claim(self, job: Job) -> Job | None:
        job.owner, job.lease_until = self.owner, datetime.now(UTC) + LEASE
        if job.status is JobStatus.PENDING:
            job.status = JobStatus.RUNNING
        try:
            job.etag = await self.store.save(job)
        except ConcurrencyConflictError:
            return None  # another worker took it first
        return job

    async def _run(self, job: Job) -> None:
        log.info("Job %s: %s of up to %d instances", job.id, job.operation.value, job.matched)
        if job.in_flight and job.status is not JobStatus.CANCELING:  # its worker stopped mid-page
            await self._act(job, job.in_flight, retried=True)
        while job.status is not JobStatus.CANCELING and not job.last_page:
            page = await self.client.query(replace(job.query, continuation_token=job.cursor))
            job.in_flight = [s.instance_id for s in page.states]
            job.cursor, job.last_page = page.continuation_token, page.continuation_token is None
            await self._save(job)
            await self._act(job, job.in_flight, retried=False)
        job.status = JobStatus.CANCELED if job.status is JobStatus.CANCELING else JobStatus.COMPLETED
        job.owner = job.lease_until = None
        await self._save(job)
        log.info("Job %s %s: %d done, %d failed", job.id, job.status.value.lower(), job.done, job.failed)

    async def _act(self, job: Job, ids: list[str], *, retried: bool) -> None:
        act = ACTIONS[job.operation]
        for position, instance_id in enumerate(ids):
            if retried and await self._acted_already(job, instance_id):
                job.done += 1
                continue
            try:
                await act(self.client, job, instance_id)
                job.done += 1
            except (InstanceStateError, InstanceNotFoundError, InstanceAlreadyExistsError) as exc:
                job.failed += 1
                if len(job.failures) < MAX_FAILURES_KEPT:
                    job.failures.append({"instanceId": instance_id, "reason": str(exc)})
            if (position + 1) % 20 == 0 or position == len(ids) - 1:
                job.in_flight = ids[position + 1 :]
                await self._save(job)  # progress, the lease, and whether it was cancelled
                if job.status is JobStatus.CANCELING:
                    return

    async def _acted_already(self, job: Job, instance_id: str) -> bool:
        if job.operation is Operation.RESTART:
            return await self.client.get_state(restarted_id(job.id, instance_id)) is not None
        state = await self.client.get_state(instance_id)
        if job.operation is Operation.PURGE:
            return state is None
        return state is not None and state.status in ALREADY[job.operation]

    async def _save(self, job: Job) -> None:
        """Save progress and renew the lease; a cancellation saved meanwhile is taken up."""
        job.updated = datetime.now(UTC)
        job.lease_until = datetime.now(UTC) + LEASE if job.owner else None
        try:
            job.etag = await self.store.save(job)
            return
        except ConcurrencyConflictError:
            current = await self.store.get(job.id)
        if current is None or current.owner != self.owner:
            raise DurableExtError(f"The job '{job.id}' was taken over by another worker")
        cancel = current.status is JobStatus.CANCELING
        job.etag = current.etag
        if cancel and job.status is JobStatus.RUNNING:
            job.status = JobStatus.CANCELING
        job.etag = await self.store.save(job)
