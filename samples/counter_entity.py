"""Durable entity: a counter, signalled and read from HTTP through the durable client.

    curl -X POST http://localhost:7071/api/counters/apples/add -H 'Content-Type: application/json' -d '5'
    curl http://localhost:7071/api/counters/apples
    curl -X POST http://localhost:7071/api/counters/apples/reset

The same entity answers the built-in entity routes:
    curl -X POST 'http://localhost:7071/runtime/webhooks/durabletask/entities/counter/apples?op=add' \
        -H 'Content-Type: application/json' -d '1'
    curl http://localhost:7071/runtime/webhooks/durabletask/entities/counter/apples
"""

import json

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
    elif operation == "reset":
        value = 0
    elif operation == "get":
        context.set_result(value)
    elif operation == "delete":
        context.destruct_on_exit()
        return
    else:
        raise ValueError(f"counter has no operation '{operation}'; use add, reset, get or delete")
    context.set_state(value)


@bp.route(route="counters/{key}/{operation}", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def signal_counter(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    entity = df.EntityId("counter", req.route_params["key"])
    amount = req.get_json() if req.get_body() else None
    await client.signal_entity(entity, req.route_params["operation"], amount)
    return func.HttpResponse(status_code=202)


@bp.route(route="counters/{key}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def read_counter(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    state = await client.read_entity_state(df.EntityId("counter", req.route_params["key"]))
    if not state.entity_exists:
        return func.HttpResponse(f"counter '{req.route_params['key']}' does not exist", status_code=404)
    return func.HttpResponse(json.dumps(state.entity_state), mimetype="application/json")
