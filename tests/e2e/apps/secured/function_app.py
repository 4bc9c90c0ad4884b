"""An app with functions at every auth level, for the key checks (df.DFApp's default level is FUNCTION)."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp()


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"])
    return client.create_check_status_response(req, instance_id)


@app.route(route="open", auth_level=func.AuthLevel.ANONYMOUS)
def open_route(req: func.HttpRequest) -> str:
    return "anyone"


@app.route(route="admin", auth_level=func.AuthLevel.ADMIN)
def admin_route(req: func.HttpRequest) -> str:
    return "admins"


@app.route(route="other")
def other(req: func.HttpRequest) -> str:
    return "other"


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    return (yield context.call_activity("hello", "keys"))


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    decision = yield context.wait_for_external_event("decision")
    return f"decided {decision}"


@app.activity_trigger(input_name="name")
def hello(name: str) -> str:
    return f"Hello {name}!"
