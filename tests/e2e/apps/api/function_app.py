"""A test app for the management API's description and its fuzz: orchestrations that wait, finish at
once or fail, one entity, and an HTTP function that reports what the SDK's get_status makes of an id."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    value = yield context.wait_for_external_event("Go")
    return {"got": value, "input": context.get_input()}


@app.orchestration_trigger(context_name="context")
def quick(context: df.DurableOrchestrationContext):
    return {"quick": context.get_input()}


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext):
    raise ValueError(f"fails on purpose with {context.get_input()!r}")


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += int(context.get_input() or 0)
    context.set_state(value)


@app.route(route="sdk_status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def sdk_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    status = await client.get_status(req.route_params["instance_id"])
    body = {
        "truthy": bool(status),
        "instanceId": status.instance_id,
        "runtimeStatus": status.runtime_status.name if status.runtime_status else None,
        "createdTime": status.created_time.isoformat() if status.created_time else None,
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
