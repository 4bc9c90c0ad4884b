"""The OpenAPI description of the bulk-job routes (``http_jobs``), durable-ext's own."""

from __future__ import annotations

from ..core.jobs import JobStatus, Operation
from .openapi_components import (
    LOCATION,
    STR,
    Json,
    array_of,
    flag,
    object_schema,
    ok,
    operation,
    param,
    ref,
    responses_with,
    text_schema,
)

JOB_SCHEMAS: Json = {
    "Job": object_schema(
        {
            "id": STR,
            "operation": {"type": "string", "enum": [o.value for o in Operation]},
            "status": {"type": "string", "enum": [s.value for s in JobStatus]},
            "query": {"type": "object"},
            "reason": {"type": ["string", "null"]},
            "createdTime": STR,
            "lastUpdatedTime": STR,
            "matched": {"type": "integer", "minimum": 0},
            "done": {"type": "integer", "minimum": 0},
            "failed": {"type": "integer", "minimum": 0},
            "failures": {
                "type": "array",
                "items": object_schema({"instanceId": STR, "reason": STR}, ["instanceId", "reason"]),
            },
        },
        ["id", "operation", "status", "matched", "done", "failed", "failures"],
    ),
    "JobDryRun": object_schema(
        {
            "operation": STR,
            "matched": {"type": "integer", "minimum": 0},
            "instances": {"type": "array", "items": STR},
        },
        ["operation", "matched", "instances"],
    ),
}


def job_paths(base: str, filters: list[Json]) -> Json:
    job_id = param("jobId", "path", STR, "The job's id, as `POST /jobs` returned it.")
    job = ref("schemas", "Job")
    create_params = [
        param(
            "operation",
            "query",
            {"type": "string", "enum": [o.value for o in Operation]},
            "What to do to each instance the filters match (a purge only touches finished ones).",
            required=True,
        ),
        param("reason", "query", text_schema(1024), "Recorded with each instance acted on."),
        flag(
            "dryRun", "Count and list (the first 100) what the job would act on, and create nothing.", False
        ),
        *filters,
    ]
    started = ok("The job, created; it runs in a worker.", job, {"Location": LOCATION})
    return {
        f"{base}/jobs": {
            "post": operation(
                "createJob",
                "Act on every instance a query matches, as a job (durable-ext's own)",
                create_params,
                responses_with(
                    {"200": ok("The dry run.", ref("schemas", "JobDryRun")), "202": started}, "400"
                ),
            ),
            "get": operation(
                "listJobs",
                "The hub's jobs, newest first (durable-ext's own)",
                [],
                responses_with({"200": ok("The jobs.", array_of("Job"))}, "400"),
            ),
        },
        f"{base}/jobs/{{jobId}}": {
            "get": operation(
                "getJob",
                "A job's progress (durable-ext's own)",
                [job_id],
                responses_with({"200": ok("The job.", job)}, "400 404"),
            )
        },
        f"{base}/jobs/{{jobId}}/cancel": {
            "post": operation(
                "cancelJob",
                "Stop a job after the instance it acts on (durable-ext's own)",
                [job_id],
                responses_with({"202": ok("The job, cancelling.", job)}, "400 404"),
            )
        },
    }
