"""A test app for instance management: one HTTP function per SDK client method, and orchestrations
that wait, fail once, or finish at once."""

import json
import threading
from datetime import datetime

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

_attempts: dict[str, int] = {}
_attempts_lock = threading.Lock()


def _result(value: object) -> func.HttpResponse:
    return func.HttpResponse(json.dumps({"result": value}, default=str), mimetype="application/json")


def _error(exc: Exception) -> func.HttpResponse:
    body = {"error": f"{type(exc).__name__}: {exc}"}
    return func.HttpResponse(json.dumps(body), status_code=500, mimetype="application/json")


def _statuses(req: func.HttpRequest) -> list[df.OrchestrationRuntimeStatus] | None:
    names = req.params.get("status")
    return [df.OrchestrationRuntimeStatus(n) for n in names.split(",")] if names else None


def _time(req: func.HttpRequest, name: str) -> datetime | None:
    value = req.params.get(name)
    return datetime.fromisoformat(value) if value else None


@app.route(route="start/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    try:
        instance_id = await client.start_new(
            req.route_params["name"], req.route_params.get("instance_id"), req.get_json() if body else None
        )
    except Exception as exc:
        return _error(exc)
    return client.create_check_status_response(req, instance_id)


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    st = await client.get_status(req.route_params["instance_id"], show_input=True)
    return _result(st.to_json() if st else None)


@app.route(route="all", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status_all(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return _result([s.to_json() for s in await client.get_status_all()])


@app.route(route="by", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status_by(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    found = await client.get_status_by(
        created_time_from=_time(req, "from"),
        created_time_to=_time(req, "to"),
        runtime_status=_statuses(req),
        instance_id_prefix=req.params.get("prefix"),
    )
    return _result([s.to_json() for s in found])


@app.route(route="raise/{instance_id}/{event}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def raise_event(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        await client.raise_event(req.route_params["instance_id"], req.route_params["event"], req.get_json())
    except Exception as exc:
        return _error(exc)
    return _result(None)


@app.route(route="manage/{operation}/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def operate(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """terminate, suspend, resume, rewind (``?reason=``) and restart (``?new=false``)."""
    instance_id, operation = req.route_params["instance_id"], req.route_params["operation"]
    reason = req.params.get("reason", "")
    try:
        if operation == "restart":
            result = await client.restart(instance_id, req.params.get("new", "true") == "true")
        else:
            result = await getattr(client, operation)(instance_id, reason)
    except Exception as exc:
        return _error(exc)
    return _result(result)


@app.route(route="purge/{instance_id}", methods=["DELETE"])
@app.durable_client_input(client_name="client")
async def purge(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    result = await client.purge_instance_history(req.route_params["instance_id"])
    return _result(result.instances_deleted)


@app.route(route="purge", methods=["DELETE"])
@app.durable_client_input(client_name="client")
async def purge_by(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    result = await client.purge_instance_history_by(_time(req, "from"), _time(req, "to"), _statuses(req))
    return _result(result.instances_deleted)


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    value = yield context.wait_for_external_event("Go")
    return {"got": value, "input": context.get_input()}


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    """Counts ``Tick`` events until one carries "stop"; a suspended instance does not count."""
    ticks = 0
    while True:
        value = yield context.wait_for_external_event("Tick")
        ticks += 1
        context.set_custom_status({"ticks": ticks})
        if value == "stop":
            return ticks


@app.orchestration_trigger(context_name="context")
def quick(context: df.DurableOrchestrationContext):
    return {"quick": context.get_input()}


@app.orchestration_trigger(context_name="context")
def fails_once(context: df.DurableOrchestrationContext):
    key = context.get_input()
    first = yield context.call_activity("steady", key)
    second = yield context.call_activity("fail_first_time", key)
    return [first, second]


@app.orchestration_trigger(context_name="context")
def parent_of_failure(context: df.DurableOrchestrationContext):
    child_id = context.instance_id + "-child"
    child = yield context.call_sub_orchestrator("fails_once", context.get_input(), child_id)
    return {"child": child}


@app.activity_trigger(input_name="value")
def steady(value: str) -> str:
    with _attempts_lock:
        _attempts["steady:" + value] = _attempts.get("steady:" + value, 0) + 1
    return f"steady {value}"


@app.activity_trigger(input_name="key")
def fail_first_time(key: str) -> str:
    with _attempts_lock:
        attempt = _attempts[key] = _attempts.get(key, 0) + 1
    if attempt == 1:
        raise ValueError(f"first attempt of {key} fails")
    return f"attempt {attempt} of {key}"


@app.route(route="attempts/{key}", methods=["GET"])
def attempts(req: func.HttpRequest) -> func.HttpResponse:
    with _attempts_lock:
        return _result(_attempts.get(req.route_params["key"], 0))
