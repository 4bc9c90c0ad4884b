"""Monitor: poll a condition on a durable timer until it holds or the deadline passes.

Input: how many checks until the job reports done, and the polling interval in seconds:
    curl -i -X POST http://localhost:7071/api/orchestrators/job_monitor \\
        -H 'Content-Type: application/json' -d '{"checks_until_done": 3, "interval_s": 1}'
"""

from datetime import timedelta

import azure.durable_functions as df

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def job_monitor(context: df.DurableOrchestrationContext):
    settings = context.get_input() or {}
    interval = timedelta(seconds=settings.get("interval_s", 1))
    deadline = context.current_utc_datetime + timedelta(seconds=settings.get("timeout_s", 60))
    checks = 0
    while context.current_utc_datetime < deadline:
        checks += 1
        status = yield context.call_activity("check_job", {"check": checks, **settings})
        context.set_custom_status({"checks": checks, "last": status})
        if status == "done":
            return {"done": True, "checks": checks}
        yield context.create_timer(context.current_utc_datetime + interval)
    return {"done": False, "checks": checks}


@bp.activity_trigger(input_name="probe")
def check_job(probe: dict) -> str:
    return "done" if probe["check"] >= probe.get("checks_until_done", 3) else "running"
