"""A test app for the table input and output bindings: HTTP routes, and an activity that writes rows."""

import json

import azure.durable_functions as df
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="people/{partition}", methods=["POST"])
@app.table_output(
    arg_name="rows",
    connection="AzureWebJobsStorage",
    table_name="%PEOPLE_TABLE%",
    partition_key="{partition}",
)
def add_people(req: func.HttpRequest, rows: func.Out[str]) -> func.HttpResponse:
    """Writes the body (an entity or a list of them) as JSON text, or as a dict/list with ?as=object."""
    if req.params.get("as") == "object":
        rows.set(req.get_json())
    else:
        rows.set(req.get_body().decode())
    return func.HttpResponse(status_code=201)


@app.route(route="entity/{table}/{partition}/{row}", methods=["GET"])
@app.table_input(
    arg_name="entity",
    connection="AzureWebJobsStorage",
    table_name="{table}",
    partition_key="{partition}",
    row_key="{row}",
)
def get_entity(req: func.HttpRequest, entity: str | None) -> func.HttpResponse:
    if entity is None:
        return func.HttpResponse("none", status_code=404)
    return func.HttpResponse(entity, mimetype="application/json")


@app.route(route="older/{partition}/{age}/{exclude}", methods=["GET"])
@app.table_input(
    arg_name="people",
    connection="AzureWebJobsStorage",
    table_name="People",
    partition_key="{partition}",
    filter="Age ge {age} and Name ne '{exclude}'",
    take=2,
)
def older(req: func.HttpRequest, people: str) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"type": type(people).__name__, "people": json.loads(people)}), mimetype="application/json"
    )


@app.route(route="bad-table", methods=["POST"])
@app.table_output(arg_name="rows", connection="AzureWebJobsStorage", table_name="ab", partition_key="p")
def bad_table(req: func.HttpRequest, rows: func.Out[str]) -> func.HttpResponse:
    rows.set("{}")
    return func.HttpResponse(status_code=201)


durable = df.Blueprint()


@durable.route(route="orchestrators/rows/{partition}", methods=["POST"])
@durable.durable_client_input(client_name="client")
async def start_rows(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new("rows_orchestrator", None, req.route_params["partition"])
    return client.create_check_status_response(req, instance_id)


@durable.orchestration_trigger(context_name="context")
def rows_orchestrator(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    partition = context.get_input()
    written = yield context.call_activity("write_rows", {"partition": partition, "count": 3})
    return written


@durable.activity_trigger(input_name="job")
@durable.table_output(arg_name="rows", connection="AzureWebJobsStorage", table_name="ActivityRows")
def write_rows(job: dict, rows: func.Out[str]) -> int:
    entities = [
        {"PartitionKey": job["partition"], "RowKey": f"row{i}", "Index": i} for i in range(job["count"])
    ]
    rows.set(json.dumps(entities))
    return len(entities)


app.register_functions(durable)
