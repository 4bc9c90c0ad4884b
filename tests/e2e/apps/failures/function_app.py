"""A test app whose orchestrators and entity operations fail, to see what the failures say."""

import json
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def count_words(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    words = yield context.call_activity("split_words", "to be or not to be")
    counts: dict = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts["key"]  # no such word: KeyError('key')


@app.activity_trigger(input_name="text")
def split_words(text: str) -> list:
    return text.split()


@app.orchestration_trigger(context_name="context")
def reads_input(context: df.DurableOrchestrationContext) -> dict[str, Any]:
    return {"input": context.get_input()}


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
    elif operation == "get":
        context.set_result(value)
    else:
        raise ValueError(f"counter has no operation '{operation}'; use add or get")
    context.set_state(value)


@app.route(route="counters/{key}/{operation}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def signal_counter(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    entity = df.EntityId("counter", req.route_params["key"])
    await client.signal_entity(entity, req.route_params["operation"], req.get_json())
    return func.HttpResponse(status_code=202)


@app.route(route="counters/{key}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def read_counter(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    state = await client.read_entity_state(df.EntityId("counter", req.route_params["key"]))
    body = {"exists": state.entity_exists, "state": state.entity_state}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")
