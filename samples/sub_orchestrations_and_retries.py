"""Sub-orchestrations and retries: a parent runs one child per region; each child retries a flaky step.

    curl -i -X POST http://localhost:7071/api/orchestrators/deploy_everywhere \\
        -H 'Content-Type: application/json' -d '["eu", "us", "asia"]'

A region that is not one of ``REGIONS`` fails every attempt, so its child and then the parent fail:
try ``'["eu", "mars"]'`` to see a failed instance.
"""

import azure.durable_functions as df

bp = df.Blueprint()

REGIONS = {"eu", "us", "asia"}
_failures_left: dict[str, int] = {}


@bp.orchestration_trigger(context_name="context")
def deploy_everywhere(context: df.DurableOrchestrationContext):
    regions = context.get_input() or ["eu", "us"]
    children = [
        context.call_sub_orchestrator("deploy_region", region, f"{context.instance_id}-{region}")
        for region in regions
    ]
    results = yield context.task_all(children)
    return dict(zip(regions, results, strict=True))


@bp.orchestration_trigger(context_name="context")
def deploy_region(context: df.DurableOrchestrationContext):
    region = context.get_input()
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=200, max_number_of_attempts=4)
    result = yield context.call_activity_with_retry("flaky_deploy", retry, region)
    return result


@bp.activity_trigger(input_name="region")
def flaky_deploy(region: str) -> str:
    """Fails the first time for each region, to show the retry (and every time for an unknown one)."""
    if region not in REGIONS:
        raise ValueError(f"there is no region '{region}' to deploy to")
    left = _failures_left.setdefault(region, 1)
    if left > 0:
        _failures_left[region] = left - 1
        raise RuntimeError(f"transient failure deploying to {region}")
    return f"deployed to {region}"
