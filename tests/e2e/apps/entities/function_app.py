"""A test app for durable entities, through the official SDK: entities, clients and orchestrations."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
    elif operation == "add_then_fail":
        context.set_state(value + context.get_input())
        raise ValueError("added, then failed")
    elif operation == "get":
        context.set_result(value)
    elif operation == "whoami":
        context.set_result({"name": context.entity_name, "key": context.entity_key})
    elif operation == "delete":
        context.destruct_on_exit()
        return
    elif operation == "break_state":
        context.set_state({1, 2, 3})  # a set is not JSON-serializable
        return
    else:
        raise ValueError(f"unknown operation '{operation}'")
    context.set_state(value)


@app.entity_trigger(context_name="context", entity_name="Journal")
def journal(context: df.DurableEntityContext) -> None:
    """Records every input it is sent, in order, under the operation's name."""
    entries: list = context.get_state(list)
    if context.operation_name == "record":
        entries.append(context.get_input())
    context.set_state(entries)
    context.set_result(len(entries))


@app.entity_trigger(context_name="context")
def grumpy(context: df.DurableEntityContext) -> None:
    raise RuntimeError(f"grumpy refuses '{context.operation_name}'")


@app.route(route="signal/{name}/{key}/{op}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def signal(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    entity = df.EntityId(req.route_params["name"], req.route_params["key"])
    value = json.loads(req.get_body()) if req.get_body() else None
    await client.signal_entity(entity, req.route_params["op"], value)
    return func.HttpResponse(status_code=202)


@app.route(route="read/{name}/{key}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def read(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    entity = df.EntityId(req.route_params["name"], req.route_params["key"])
    response = await client.read_entity_state(entity)
    body = {"exists": response.entity_exists, "state": response.entity_state}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="run/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def run_and_wait(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], None, req.get_json() if body else None)
    return await client.wait_for_completion_or_create_check_status_response(
        req, instance_id, timeout_in_milliseconds=30000, retry_interval_in_milliseconds=100
    )


@app.orchestration_trigger(context_name="context")
def signal_then_call(context: df.DurableOrchestrationContext):
    """Signals add(1..n) in order, then calls get: the call is answered after every signal."""
    job = context.get_input()
    entity = df.EntityId("counter", job["key"])
    for amount in range(1, job["n"] + 1):
        context.signal_entity(entity, "add", amount)
    total = yield context.call_entity(entity, "get")
    return total


@app.orchestration_trigger(context_name="context")
def record_in_order(context: df.DurableOrchestrationContext):
    job = context.get_input()
    entity = df.EntityId("journal", job["key"])
    for i in range(job["n"]):
        context.signal_entity(entity, "record", i)
    count = yield context.call_entity(entity, "record", "end")
    return count


@app.orchestration_trigger(context_name="context")
def fan_out_to_counters(context: df.DurableOrchestrationContext):
    keys = context.get_input()
    calls = [context.call_entity(df.EntityId("counter", key), "add", 10) for key in keys]
    yield context.task_all(calls)
    totals = yield context.task_all([context.call_entity(df.EntityId("counter", k), "get") for k in keys])
    return totals


@app.orchestration_trigger(context_name="context")
def call_and_catch(context: df.DurableOrchestrationContext):
    """Calls an operation and reports the error the entity raised, if any."""
    job = context.get_input()
    try:
        result = yield context.call_entity(df.EntityId(job["name"], job["key"]), job["op"], job.get("input"))
        return {"ok": result}
    except Exception as exc:
        return {"error": str(exc)}


@app.orchestration_trigger(context_name="context")
def call_and_fail(context: df.DurableOrchestrationContext):
    """Calls an operation that fails and does not catch the error."""
    result = yield context.call_entity(df.EntityId("grumpy", "x"), "anything")
    return result
