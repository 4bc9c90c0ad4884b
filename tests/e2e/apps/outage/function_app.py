"""A test app for storage outages: an HTTP starter and a short chain of activities."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"], client_input=req.get_json())
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    count = context.get_input()
    total = 0
    for step in range(count):
        total += yield context.call_activity("add_one", step)
    return total


@app.activity_trigger(input_name="step")
def add_one(step: int) -> int:
    return step + 1
