"""The sample app durable-ext serves with `make run`: every sample blueprint plus the classic starter."""

import azure.durable_functions as df
import azure.functions as func

from samples import (
    aggregator,
    async_http_api,
    counter_entity,
    fan_out_fan_in,
    function_chaining,
    human_interaction,
    monitor,
    scheduled_and_queued,
    sub_orchestrations_and_retries,
)

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="orchestrators/{functionName}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start any orchestrator by name; the body (if any) is its JSON input."""
    function_name = req.route_params["functionName"]
    body = req.get_body()
    payload = req.get_json() if body else None
    instance_id = await client.start_new(function_name, client_input=payload)
    return client.create_check_status_response(req, instance_id)


for sample in (
    function_chaining,
    fan_out_fan_in,
    async_http_api,
    monitor,
    human_interaction,
    sub_orchestrations_and_retries,
    counter_entity,
    aggregator,
    scheduled_and_queued,
):
    app.register_functions(sample.bp)
