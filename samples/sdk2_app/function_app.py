"""A Durable Functions app written with the 2.x SDK (``azure-functions-durable`` 2.x, Python 3.13+).

The same ``df.DFApp`` decorators as a 1.x app; ``durable-ext start`` sees from its bindings that it
speaks the gRPC protocol and runs it on the task hub like any other app. Start an orchestration with

    curl -X POST http://localhost:7071/api/orchestrators/hello_cities

and follow the ``statusQueryGetUri`` it answers with.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from durabletask import task
from durabletask.entities import EntityInstanceId

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="orchestrators/{function_name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableFunctionsClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["function_name"], client_input=req.get_json() if body else None
    )
    return client.create_check_status_response(req, instance_id)


@app.route(route="counters/{key}", methods=["GET", "POST"])
@app.durable_client_input(client_name="client")
async def counter_api(req: func.HttpRequest, client: df.DurableFunctionsClient) -> func.HttpResponse:
    """POST adds the body's number to the counter; GET reads it."""
    entity = df.EntityId("counter", req.route_params["key"])
    if req.method == "POST":
        await client.signal_entity(entity, "add", int(req.get_body() or b"1"))
        return func.HttpResponse(status_code=202)
    state = await client.read_entity_state(entity)
    return func.HttpResponse(str(state.entity_state if state.entity_exists else 0))


@app.orchestration_trigger(context_name="context")
def hello_cities(context: df.DurableOrchestrationContext) -> Any:
    """Function chaining: three activities, one after the other."""
    cities = ["Tokyo", "Seattle", "London"]
    greetings = []
    for city in cities:
        greetings.append((yield context.call_activity("say_hello", city)))
    return greetings


@app.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext) -> Any:
    count = context.get_input() or 5
    parts = yield context.task_all([context.call_activity("square", n) for n in range(count)])
    return sum(parts)


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext) -> Any:
    """Human interaction: waits for an ``approve`` event, or gives up after the timeout."""
    timeout = context.create_timer(
        context.current_utc_datetime + timedelta(seconds=context.get_input() or 60)
    )
    answer = context.wait_for_external_event("approve")
    winner = yield context.task_any([answer, timeout])
    if winner == answer:
        timeout.cancel()
        return f"approved: {answer.result}"
    return "timed out"


@app.orchestration_trigger(context_name="context")
def moves_under_lock(context: task.OrchestrationContext, keys: list[str]) -> Any:
    """A durabletask-style orchestrator ``(context, input)``: moves one counter's value into another
    inside a critical section that holds both, so no other caller sees them half-way."""
    source, target = (EntityInstanceId("counter", key) for key in keys)
    with (yield context.lock_entities([source, target])):
        value = yield context.call_entity(source, "get")
        yield context.call_entity(target, "add", value)
        yield context.call_entity(source, "reset")
    return (yield context.call_entity(target, "get"))


@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


@app.activity_trigger(input_name="n")
def square(n: int) -> int:
    return n * n


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        context.set_state(value + context.get_input())
    elif operation == "get":
        context.set_result(value)
    elif operation == "reset":
        context.set_state(0)
