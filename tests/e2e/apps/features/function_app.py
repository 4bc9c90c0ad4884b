"""A test app that exercises the orchestration features of the foundation, through the official SDK."""

import json

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
