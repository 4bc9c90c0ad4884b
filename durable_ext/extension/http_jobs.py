"""Bulk operations over the API (durable-ext's routes): ``POST /jobs`` acts on every instance a query
matches (the filters of ``GET /instances``), ``GET /jobs`` and ``GET /jobs/{jobId}`` show progress, and
``POST /jobs/{jobId}/cancel`` stops one. ``dryRun=true`` shows what a job would act on instead.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from ..core.jobs import JobNotFoundError, Operation, cancel_job, create_job
from ..core.queries import InstanceQuery, purgeable_statuses
from .http_common import WEBHOOK_BASE, ApiHandlers, api_errors, flag, hub_of
from .http_queries import filter_query
from .request_limits import MAX_INSTANCE_ID_LOOKUP_LENGTH, RequestRejected, check_length

DRY_RUN_SHOWN = 100
"""Instances a dry run lists (it counts them all)."""


def job_query(operation: Operation, query: InstanceQuery) -> InstanceQuery:
    """What a job of ``operation`` acts on: a purge only ever touches finished instances."""
    if operation is Operation.PURGE:
        return replace(query, statuses=purgeable_statuses(query.statuses))
    return query


class JobHandlers(ApiHandlers):
    def _own_hub(self, request: web.Request) -> None:
        if not self.extension.is_own_hub(hub_of(request)):
            raise RequestRejected(
                "Bulk jobs run on the app's own task hub; leave out 'taskHub' or name this app's hub.",
                parameter="taskHub",
            )

    @api_errors
    async def create(self, request: web.Request) -> web.Response:
        self._own_hub(request)
        text = request.query.get("operation") or ""
        try:
            operation = Operation.parse(text)
        except ValueError as exc:
            raise RequestRejected(f"The query parameter {exc}", parameter="operation") from None
        reason = request.query.get("reason") or None
        if reason is not None:
            check_length(reason, MAX_INSTANCE_ID_LOOKUP_LENGTH * 4, "reason", "reason")
        query = job_query(operation, filter_query(request))
        client = self.extension.client
        if flag(request, "dryRun", False):
            counts = await client.count(query)
            page = await client.query(replace(query, page_size=DRY_RUN_SHOWN, show_input=False))
            body = {
                "operation": operation.value,
                "matched": sum(counts.values()),
                "instances": [s.instance_id for s in page.states],
            }
            return web.json_response(body)
        job = await create_job(self.extension.service.jobs, client, operation, query, reason)
        self.extension.jobs.wake()
        location = f"{request.scheme}://{request.host}{WEBHOOK_BASE}/jobs/{job.id}"
        return web.json_response(job.view(), status=202, headers={"Location": location})

    @api_errors
    async def list(self, request: web.Request) -> web.Response:
        self._own_hub(request)
        jobs = await self.extension.service.jobs.list()
        jobs.sort(key=lambda job: job.created, reverse=True)
        return web.json_response([job.view() for job in jobs])

    @api_errors
    async def get(self, request: web.Request) -> web.Response:
        self._own_hub(request)
        job_id = request.match_info["jobId"]
        job = await self.extension.service.jobs.get(job_id)
        if job is None:
            raise RequestRejected(str(JobNotFoundError(job_id)), parameter="jobId", status=404)
        return web.json_response(job.view())

    @api_errors
    async def cancel(self, request: web.Request) -> web.Response:
        self._own_hub(request)
        job_id = request.match_info["jobId"]
        try:
            job = await cancel_job(self.extension.service.jobs, job_id)
        except JobNotFoundError as exc:
            raise RequestRejected(str(exc), parameter="jobId", status=404) from None
        return web.json_response(job.view(), status=202)
