"""``durable-ext durable <operation> --query ...`` and ``durable-ext durable jobs``: bulk jobs from the
command line (``core.jobs``).

``--query`` takes the filters of ``GET /instances`` as a query string, e.g.
``'runtimeStatus=Failed&createdTimeTo=2026-11-01T00:00:00Z'``. ``--dry-run`` counts and lists what would
be touched. Otherwise the job is written to the task hub and run by this command (or, if a host's worker
took it first, followed until it ends), printing its counts at the end; an interrupted command leaves a
job that any worker of the hub finishes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from multidict import MultiDict

from ..core.client import TaskHubClient
from ..core.jobs import Job, JobNotFoundError, JobRunner, Operation, cancel_job, create_job
from ..core.service import TaskHubService
from ..core.worker_id import default_worker_id
from ..errors import ConfigurationError, InvalidRequestError
from ..extension.http_jobs import DRY_RUN_SHOWN, job_query
from ..extension.http_queries import filter_query


def add_query_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--query",
        help="every instance these filters match, as GET /instances takes them: "
        "'runtimeStatus=Failed&name=process_order&createdTimeTo=2026-11-01T00:00:00Z'",
    )
    parser.add_argument("--dry-run", action="store_true", help="with --query: show what would be touched")


def parsed_query(text: str) -> Any:
    params = MultiDict(parse_qsl(text, keep_blank_values=False))
    unknown = sorted(set(params) - KNOWN_FILTERS)
    if unknown:
        allowed = ", ".join(sorted(KNOWN_FILTERS))
        raise ConfigurationError(f"--query: unknown filter '{unknown[0]}'; use {allowed}.")
    try:
        return filter_query(params)
    except InvalidRequestError as exc:
        raise ConfigurationError(f"--query: {exc}") from None


KNOWN_FILTERS = {
    "createdTimeFrom",
    "createdTimeTo",
    "runtimeStatus",
    "instanceIdPrefix",
    "name",
    "customStatusContains",
    "inputContains",
}


async def bulk(operation: Operation, client: TaskHubClient, service: TaskHubService, args: Any) -> Any:
    query = job_query(operation, parsed_query(args.query))
    if args.dry_run:
        counts = await client.count(query)
        page = await client.query(replace(query, page_size=DRY_RUN_SHOWN, show_input=False))
        shown = [s.instance_id for s in page.states]
        matched = sum(counts.values())
        more = f" (the first {len(shown)} listed)" if matched > len(shown) else ""
        return {
            "operation": operation.value,
            "matched": matched,
            "instances": shown,
            "message": f"Would {operation.value} {matched} instance(s){more}; nothing was changed.",
        }
    job = await create_job(service.jobs, client, operation, query, getattr(args, "reason", None))
    print(f"Job {job.id}: {operation.value} {job.matched} instance(s)", file=sys.stderr)
    ended = await JobRunner(service.jobs, client, default_worker_id(), poll_s=1.0).run_job(job.id)
    return _summary(ended)


def _summary(job: Job) -> dict[str, Any]:
    view = job.view()
    view["message"] = (
        f"Job {job.id} {job.status.value.lower()}: {job.operation.value} done for {job.done} instance(s), "
        f"failed for {job.failed}."
    )
    return view


async def jobs(client: TaskHubClient, service: TaskHubService, args: argparse.Namespace) -> Any:
    if args.id is None:
        listed = sorted(await service.jobs.list(), key=lambda j: j.created, reverse=True)
        return {"jobs": [j.view() for j in listed]}
    if args.cancel:
        return _summary(await cancel_job(service.jobs, args.id))
    job = await service.jobs.get(args.id)
    if job is None:
        raise JobNotFoundError(args.id)
    return _summary(job)
