"""A test app for the blob bindings: blob input and output over HTTP, and blob triggers."""

import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="blobs/{name}", methods=["POST"])
@app.blob_output(arg_name="text", path="store/{name}", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="raw", path="store/{name}.bin", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="unset", path="store/{name}.unset", connection="AzureWebJobsStorage")
def write_blobs(
    req: func.HttpRequest, text: func.Out[str], raw: func.Out[bytes], unset: func.Out[str]
) -> func.HttpResponse:
    body = req.get_body()
    text.set(body.decode("utf-8"))
    raw.set(bytes(reversed(body)) + b"\x00\xff")
    return func.HttpResponse("written", status_code=201)


@app.route(route="blobs/{name}", methods=["GET"])
@app.blob_input(arg_name="stored", path="store/{name}", connection="AzureWebJobsStorage")
def read_blob(req: func.HttpRequest, stored: str) -> func.HttpResponse:
    if stored is None:
        return func.HttpResponse("no such blob", status_code=404)
    return func.HttpResponse(stored)


@app.route(route="streams/{name}", methods=["GET"])
@app.blob_input(
    arg_name="stream", path="store/{name}", connection="AzureWebJobsStorage", data_type=func.DataType.BINARY
)
def read_stream(req: func.HttpRequest, stream: func.InputStream) -> func.HttpResponse:
    if stream is None:
        return func.HttpResponse("no such blob", status_code=404)
    content = stream.read()
    body = {"name": stream.name, "length": stream.length, "uri": stream.uri, "content": content.hex()}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="inbox/{name}", methods=["POST"])
@app.blob_output(arg_name="drop", path="%INBOX%/{name}.txt", connection="AzureWebJobsStorage")
def drop_in_inbox(req: func.HttpRequest, drop: func.Out[bytes]) -> func.HttpResponse:
    drop.set(req.get_body())
    return func.HttpResponse("dropped", status_code=201)


@app.blob_trigger(arg_name="blob", path="%INBOX%/{name}.txt", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="result", path="outbox/{name}.txt", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="run", path="%RUNS%/{name}/{rand-guid}", connection="AzureWebJobsStorage")
def to_outbox(blob: func.InputStream, result: func.Out[str], run: func.Out[str]) -> None:
    text = blob.read().decode("utf-8")
    result.set(f"{blob.name}|{blob.length}|{text.upper()}")
    run.set(blob.uri or "")


@app.blob_trigger(arg_name="order", path="orders", connection="AzureWebJobsStorage")
@app.blob_output(arg_name="copy", path="outbox/{kind}/{BlobTrigger}", connection="AzureWebJobsStorage")
def whole_container(order: str, copy: func.Out[str]) -> None:
    copy.set(order)


@app.blob_trigger(arg_name="blob", path="failing/{name}", connection="AzureWebJobsStorage")
def always_fails(blob: func.InputStream) -> None:
    raise RuntimeError(f"cannot handle {blob.name}")
