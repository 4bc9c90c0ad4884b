"""A test app that exercises the orchestration features of the foundation, through the official SDK."""

import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["name"], req.route_params.get("instance_id"), req.get_json() if body else None
    )
    return client.create_check_status_response(req, instance_id)


@app.route(route="legacy/start/{name}", methods=["POST"])
@app.generic_input_binding(arg_name="starter", type="orchestrationClient")
async def legacy_start(req: func.HttpRequest, starter: str) -> func.HttpResponse:
    """The client binding under its Durable Functions 1.x name, read as the v1 samples read it."""
    client = df.DurableOrchestrationClient(starter)
    instance_id = await client.start_new(req.route_params["name"], None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@app.route(route="run/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def run_and_wait(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], None, req.get_json() if body else None)
    return await client.wait_for_completion_or_create_check_status_response(
        req, instance_id, timeout_in_milliseconds=20000, retry_interval_in_milliseconds=100
    )


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    flag = req.params.get("history") == "1"
    st = await client.get_status(
        req.route_params["instance_id"], show_history=flag, show_history_output=flag, show_input=True
    )
    if not st:
        return func.HttpResponse(status_code=404)
    body = st.to_json()
    body["historyEvents"] = getattr(st, "historyEvents", None)
    return func.HttpResponse(json.dumps(body, default=str), mimetype="application/json")


@app.route(route="other/start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client", task_hub="%OTHER_HUB%")
async def start_other_hub(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], None, None)
    return func.HttpResponse(
        json.dumps({"id": instance_id, "hub": client._orchestration_bindings.task_hub_name}),
        mimetype="application/json",
    )


@app.orchestration_trigger(context_name="context")
def echo_input(context: df.DurableOrchestrationContext):
    value = context.get_input()
    echoed = yield context.call_activity("echo", value)
    return {"input": value, "echoed": echoed}


@app.activity_trigger(input_name="value")
def echo(value):
    return value


@app.orchestration_trigger(context_name="context")
def race(context: df.DurableOrchestrationContext):
    slow = context.call_activity("sleep_then_return", {"seconds": 1.5, "value": "slow"})
    fast = context.call_activity("sleep_then_return", {"seconds": 0.0, "value": "fast"})
    winner = yield context.task_any([slow, fast])
    both = yield context.task_all([slow, fast])
    return {"winner": winner.result, "both": both}


@app.orchestration_trigger(context_name="context")
def slow_work(context: df.DurableOrchestrationContext):
    """An activity and a sub-orchestration that each take ``seconds``: work the monitor shows in flight."""
    seconds = context.get_input()
    work = context.call_activity("sleep_then_return", {"seconds": seconds, "value": "slept"})
    child = context.call_sub_orchestrator("timer_then_echo", seconds, f"{context.instance_id}-child")
    return (yield context.task_all([work, child]))


@app.activity_trigger(input_name="spec")
async def sleep_then_return(spec: dict) -> str:
    import asyncio

    await asyncio.sleep(spec["seconds"])
    return spec["value"]


@app.orchestration_trigger(context_name="context")
def catches_failure(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("explode", "caught")
    except Exception as exc:  # the activity's failure arrives as an exception
        context.set_custom_status({"caught": str(exc)[:80]})
        return "recovered"
    return "not reached"


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext):
    yield context.call_activity("explode", "uncaught")
    return "not reached"


@app.activity_trigger(input_name="why")
def explode(why: str) -> str:
    raise ValueError(f"boom ({why})")


@app.orchestration_trigger(context_name="context")
def raises_directly(context: df.DurableOrchestrationContext):
    yield context.call_activity("echo", 1)
    raise RuntimeError("orchestrator gave up")


@app.orchestration_trigger(context_name="context")
def plain(context: df.DurableOrchestrationContext):
    return {"plain": True, "input": context.get_input()}


@app.orchestration_trigger(context_name="context")
def deterministic(context: df.DurableOrchestrationContext):
    seen = []
    for step in range(3):
        seen.append(
            {
                "time": context.current_utc_datetime.isoformat(),
                "uuid": str(context.new_uuid()),
                "replaying": context.is_replaying,
            }
        )
        yield context.call_activity("echo", step)
    replays = yield context.call_activity("echo", seen)
    return {"first": seen, "echoed": replays, "instance": context.instance_id}


@app.orchestration_trigger(context_name="context")
def calls_missing_activity(context: df.DurableOrchestrationContext):
    yield context.call_activity("no_such_activity", 1)
    return "not reached"


@app.orchestration_trigger(context_name="context", orchestration="RenamedOrchestrator")
def renamed_orchestrator_function(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("RenamedActivity", "x")
    return result


@app.activity_trigger(input_name="value", activity="RenamedActivity")
def renamed_activity_function(value: str) -> str:
    return f"renamed:{value}"


@app.orchestration_trigger(context_name="context")
def not_serializable(context: df.DurableOrchestrationContext):
    yield context.call_activity("echo", 1)
    return object()


# ---- timers, events, sub-orchestrations, retries, continue-as-new, call_http ----------------------
@app.orchestration_trigger(context_name="context")
def timer_then_echo(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    started = context.current_utc_datetime
    yield context.create_timer(started + timedelta(seconds=seconds))
    elapsed = (context.current_utc_datetime - started).total_seconds()
    return {"elapsed_at_least": elapsed >= seconds}


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    """Human interaction: an event races a timer; the timer is cancelled when the event wins."""
    timeout_s = context.get_input()
    deadline = context.current_utc_datetime + timedelta(seconds=timeout_s)
    timer = context.create_timer(deadline)
    event = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        return {"approved": event.result}
    return {"approved": None, "timed_out": True}


@app.orchestration_trigger(context_name="context")
def two_events(context: df.DurableOrchestrationContext):
    first = yield context.wait_for_external_event("Step")
    second = yield context.wait_for_external_event("Step")
    other = yield context.wait_for_external_event("Other")
    return [first, second, other]


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    explicit = yield context.call_sub_orchestrator("child", 5, f"{context.instance_id}-kid")
    generated = yield context.call_sub_orchestrator("child", 7)
    try:
        yield context.call_sub_orchestrator("failing_child", None)
    except Exception as exc:
        return {"explicit": explicit, "generated": generated, "failure": str(exc)[:120]}
    return "not reached"


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    value = context.get_input()
    doubled = yield context.call_activity("double", value)
    return {"doubled": doubled, "parent": context.parent_instance_id}


@app.orchestration_trigger(context_name="context")
def failing_child(context: df.DurableOrchestrationContext):
    yield context.call_activity("explode", "child")
    return "not reached"


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


ATTEMPTS: dict[str, int] = {}


@app.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise RuntimeError(f"attempt {ATTEMPTS[key]} failed")
    return f"succeeded on attempt {ATTEMPTS[key]}"


@app.orchestration_trigger(context_name="context")
def retries(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    key = context.instance_id
    ok = yield context.call_activity_with_retry("flaky", options, key)
    both = yield context.task_all(
        [
            context.call_activity_with_retry("flaky", options, key + "-a"),
            context.call_activity_with_retry("flaky", options, key + "-b"),
        ]
    )
    try:
        yield context.call_activity_with_retry(
            "explode",
            df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=2),
            "retry",
        )
    except Exception as exc:
        return {"ok": ok, "both": both, "gave_up": str(exc)[:60]}
    return "not reached"


@app.orchestration_trigger(context_name="context")
def counter_loop(context: df.DurableOrchestrationContext):
    state = context.get_input() or {"n": 0, "events": []}
    if state["n"] >= 3:
        return state
    got = yield context.wait_for_external_event("Tick")
    state = {"n": state["n"] + 1, "events": [*state["events"], got]}
    context.continue_as_new(state)
    return None


@app.orchestration_trigger(context_name="context")
def http_caller(context: df.DurableOrchestrationContext):
    base = context.get_input()
    response = yield context.call_http("GET", f"{base}/api/slow-resource")
    return {"status": response["statusCode"], "content": response["content"]}


POLLS: dict[str, int] = {}


@app.route(route="slow-resource", methods=["GET"])
def slow_resource(req: func.HttpRequest) -> func.HttpResponse:
    """Answers 202 + Location twice, then 200: the async HTTP pattern call_http follows."""
    POLLS["n"] = POLLS.get("n", 0) + 1
    if POLLS["n"] % 3:
        return func.HttpResponse(status_code=202, headers={"Location": req.url, "Retry-After": "0"})
    return func.HttpResponse("done after polling", status_code=200)


@app.route(route="raise/{instance_id}/{event}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def raise_with_sdk(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    await client.raise_event(req.route_params["instance_id"], req.route_params["event"], req.get_json())
    return func.HttpResponse(status_code=202)


@app.orchestration_trigger(context_name="context")
def parent_retrying_child(context: df.DurableOrchestrationContext):
    options = df.RetryOptions(first_retry_interval_in_milliseconds=100, max_number_of_attempts=3)
    result = yield context.call_sub_orchestrator_with_retry("flaky_child", options, context.instance_id)
    return result


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext):
    outcome = yield context.call_activity("flaky", context.get_input() + "-child")
    return outcome


@app.orchestration_trigger(context_name="context")
def generations(context: df.DurableOrchestrationContext):
    """Generation 0 leaves an 8 s timer behind as it continues as new; it must not fire into generation 1."""
    generation = context.get_input() or 0
    wait = timedelta(seconds=8 if generation == 0 else 60)
    timer = context.create_timer(context.current_utc_datetime + wait)
    tick = context.wait_for_external_event("Tick")
    winner = yield context.task_any([tick, timer])
    if winner == timer:
        return {"generation": generation, "timed_out": True}
    timer.cancel()
    if generation == 0:
        context.continue_as_new(1)
        return None
    return {"generation": generation, "timed_out": False}
