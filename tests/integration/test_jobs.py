"""Bulk jobs on every provider: a query's instances acted on once each, progress kept in the hub, a
job taken over after its worker stopped mid-page, and cancellation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from durable_ext.core.client import TaskHubClient
from durable_ext.core.history import OrchestrationStatus
from durable_ext.core.jobs import Job, JobRunner, JobStatus, Operation, cancel_job, create_job, restarted_id
from durable_ext.core.queries import InstanceQuery
from durable_ext.core.retention import Retention
from durable_ext.core.service import TaskHubService

from ..providers import build_service, every_provider, provider_of
from .test_engine import registry_of
from .workers import sdk_worker

S = OrchestrationStatus
app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def patient(context: df.DurableOrchestrationContext) -> Any:
    yield context.wait_for_external_event("go")
    return context.get_input()


REGISTRY = registry_of(app)


@pytest.fixture
async def hub(
    request: pytest.FixtureRequest, connection_string: str, postgres_dsn: str, hub_name: str
) -> AsyncIterator[tuple[TaskHubService, TaskHubClient]]:
    service = build_service(provider_of(request), connection_string, hub_name, dsn=postgres_dsn)
    async with sdk_worker(service, REGISTRY) as client:
        yield service, client


async def _waiting(client: TaskHubClient, ids: list[str]) -> None:
    for instance_id in ids:
        await client.start("patient", json.dumps(json.dumps(instance_id)), instance_id)
    for instance_id in ids:
        await _until(client, instance_id, S.Running)


async def _held(
    service: TaskHubService,
    job_id: str,
    owner: str,
    lease_s: float,
    *,
    status: JobStatus = JobStatus.RUNNING,
    **progress: Any,
) -> None:
    """Save the job as ``owner`` left it: its lease ending ``lease_s`` from now (past when negative)."""
    job = await service.jobs.get(job_id)
    assert job is not None
    job.status, job.owner = status, owner
    job.lease_until = datetime.now(UTC) + timedelta(seconds=lease_s)
    for name, value in progress.items():
        setattr(job, name, value)
    job.etag = await service.jobs.save(job)


async def _until(client: TaskHubClient, instance_id: str, status: OrchestrationStatus) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while (state := await client.get_state(instance_id)) is None or state.status != status:
        assert loop.time() < deadline, (
            f"{instance_id} is {state.status.name if state else 'gone'}, not {status.name}"
        )
        await asyncio.sleep(0.05)


@every_provider("hub")
async def test_a_terminate_job_acts_on_each_match_once_and_reports_it(
    hub: tuple[TaskHubService, TaskHubClient],
) -> None:
    service, client = hub
    ids = [f"t-{i}" for i in range(5)]
    await _waiting(client, [*ids, "keep-1"])
    job = await create_job(
        service.jobs, client, Operation.TERMINATE, InstanceQuery(instance_id_prefix="t-"), "tidy"
    )
    assert (job.matched, job.status) == (5, JobStatus.PENDING)
    runner = JobRunner(service.jobs, client, "worker-a")
    assert await runner.run_one()
    assert not await runner.run_one()  # nothing left to run
    done = await service.jobs.get(job.id)
    assert done is not None and (done.status, done.done, done.failed, done.in_flight) == (
        JobStatus.COMPLETED,
        5,
        0,
        [],
    )
    for instance_id in ids:
        await _until(client, instance_id, S.Terminated)
    assert (await client.get_state("t-0")).output == "tidy"  # type: ignore[union-attr]
    assert (await client.get_state("keep-1")).status == S.Running  # type: ignore[union-attr]


@every_provider("hub")
async def test_a_job_taken_over_mid_page_acts_on_no_instance_twice(
    hub: tuple[TaskHubService, TaskHubClient],
) -> None:
    service, client = hub
    ids = [f"r-{i}" for i in range(4)]
    await _waiting(client, ids)
    for instance_id in ids:
        await client.terminate(instance_id, "to restart")
        await _until(client, instance_id, S.Terminated)
    job = await create_job(
        service.jobs, client, Operation.RESTART, InstanceQuery(instance_id_prefix="r-"), None
    )
    # a worker took the page, restarted two of its instances and stopped before saving that
    await _held(service, job.id, "worker-gone", -1, in_flight=list(ids), last_page=True)  # its one page
    for instance_id in ids[:2]:
        await client.restart(instance_id, target_id=restarted_id(job.id, instance_id))
    assert await JobRunner(service.jobs, client, "worker-b").run_one()
    done = await service.jobs.get(job.id)
    assert done is not None and (done.status, done.done, done.failed) == (JobStatus.COMPLETED, 4, 0)
    restarted = [restarted_id(job.id, i) for i in ids]
    for instance_id in restarted:
        await _until(client, instance_id, S.Running)
    counts = await client.count()
    assert (counts[S.Running], counts[S.Terminated]) == (4, 4)  # four restarted, none twice


@every_provider("hub")
async def test_a_cancelled_job_stops_and_a_purge_job_leaves_running_instances(
    hub: tuple[TaskHubService, TaskHubClient],
) -> None:
    service, client = hub
    await _waiting(client, ["p-run", "p-done"])
    await client.raise_event("p-done", "go", None)
    await _until(client, "p-done", S.Completed)
    cancelled = await create_job(
        service.jobs, client, Operation.TERMINATE, InstanceQuery(instance_id_prefix="p-"), None
    )
    assert (await cancel_job(service.jobs, cancelled.id)).status == JobStatus.CANCELED
    purge = await create_job(
        service.jobs,
        client,
        Operation.PURGE,
        InstanceQuery(instance_id_prefix="p-", statuses=frozenset({S.Completed, S.Failed, S.Terminated})),
        None,
    )
    runner = JobRunner(service.jobs, client, "worker-a")
    assert await runner.run_one() and not await runner.run_one()  # the cancelled one never runs
    assert (await service.jobs.get(purge.id)).done == 1  # type: ignore[union-attr]
    assert await client.get_state("p-done") is None
    assert (await client.get_state("p-run")).status == S.Running  # type: ignore[union-attr]
    kept = await service.jobs.get(cancelled.id)
    assert kept is not None and kept.done == 0


@every_provider("hub")
async def test_a_job_another_worker_holds_is_left_to_it_until_its_lease_ends(
    hub: tuple[TaskHubService, TaskHubClient],
) -> None:
    service, client = hub
    await _waiting(client, ["h-1"])
    job = await create_job(
        service.jobs, client, Operation.SUSPEND, InstanceQuery(instance_id_prefix="h-"), None
    )
    await _held(service, job.id, "worker-a", 60)
    runner = JobRunner(service.jobs, client, "worker-b")
    assert not await runner.run_one()
    await _held(service, job.id, "worker-a", -1)  # worker-a stopped renewing
    assert await runner.run_one()
    await _until(client, "h-1", S.Suspended)
    assert Job.from_json((await service.jobs.get(job.id)).to_json()).done == 1  # type: ignore[union-attr]


@every_provider("hub")
async def test_the_retention_rule_purges_old_finished_instances_once_across_workers(
    hub: tuple[TaskHubService, TaskHubClient],
) -> None:
    service, client = hub
    await _waiting(client, ["old-1", "old-2", "still-running"])
    for instance_id in ("old-1", "old-2"):
        await client.raise_event(instance_id, "go", None)
        await _until(client, instance_id, S.Completed)
    first, second = (Retention(JobRunner(service.jobs, client, w), service.hub_name, 1, 3600) for w in "ab")
    assert await first.check() is None  # nothing is a day old yet
    later = datetime.now(UTC) + timedelta(days=2)
    job = await first.check(later)
    assert job is not None and job.matched == 2
    assert await second.check(later) is None  # the same interval's job exists: no second one
    assert await second.runner.run_one()
    assert await client.get_state("old-1") is None and await client.get_state("old-2") is None
    assert (await client.get_state("still-running")).status == S.Running  # type: ignore[union-attr]
    assert [j.id for j in await service.jobs.list()] == [job.id]


@every_provider("hub")
async def test_a_job_cancelled_while_its_worker_was_gone_is_ended_without_acting(
    hub: tuple[TaskHubService, TaskHubClient],
) -> None:
    service, client = hub
    await _waiting(client, ["c-1"])
    job = await create_job(
        service.jobs, client, Operation.TERMINATE, InstanceQuery(instance_id_prefix="c-"), None
    )
    await _held(service, job.id, "worker-gone", -1, in_flight=["c-1"], status=JobStatus.CANCELING)
    assert await JobRunner(service.jobs, client, "worker-b").run_one()
    ended = await service.jobs.get(job.id)
    assert ended is not None and (ended.status, ended.done) == (JobStatus.CANCELED, 0)
    assert (await client.get_state("c-1")).status == S.Running  # type: ignore[union-attr]
