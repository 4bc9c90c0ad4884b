"""Queue triggers and queue outputs: an HTTP route feeds a queue, triggers read it and write other queues."""

import json
import logging
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
STORAGE = "AzureWebJobsStorage"


@app.route(route="send", methods=["POST"])
@app.queue_output(arg_name="msg", queue_name="%IN_QUEUE%", connection=STORAGE)
def send(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse:
    msg.set(req.get_body().decode())
    return func.HttpResponse("queued", status_code=202)


@app.queue_trigger(arg_name="msg", queue_name="%IN_QUEUE%", connection=STORAGE)
@app.queue_output(arg_name="report", queue_name="e2e-reports", connection=STORAGE)
@app.queue_output(arg_name="echo", queue_name="e2e-echo-{queueTrigger}", connection=STORAGE)
@app.queue_output(arg_name="items", queue_name="e2e-items", connection=STORAGE)
def process(
    msg: func.QueueMessage, report: func.Out[str], echo: func.Out[str], items: func.Out[list[str]]
) -> None:
    body = msg.get_body().decode()
    try:
        parsed = msg.get_json()
    except ValueError:
        parsed = None
    report.set(
        json.dumps(
            {
                "id": msg.id,
                "dequeue_count": msg.dequeue_count,
                "body": body,
                "json": parsed,
                "inserted": msg.insertion_time.isoformat() if msg.insertion_time else None,
                "pop_receipt": msg.pop_receipt,
            }
        )
    )
    if parsed is None:
        echo.set(body.upper())  # the queue name resolves {queueTrigger}: e2e-echo-<body>
    elif isinstance(parsed, dict) and "items" in parsed:
        items.set(parsed["items"])  # one message per item


@app.queue_trigger(arg_name="item", queue_name="e2e-items", connection=STORAGE)
@app.queue_output(arg_name="$return", queue_name="e2e-items-done", connection=STORAGE)
def relay(item: str) -> str:
    return item.upper()


@app.queue_trigger(arg_name="data", queue_name="e2e-binary", connection=STORAGE, data_type="BINARY")
@app.queue_output(arg_name="out", queue_name="e2e-binary-seen", connection=STORAGE)
def binary_probe(data: bytes, out: func.Out[str]) -> None:
    out.set(json.dumps({"type": type(data).__name__, "hex": data.hex()}))


@app.queue_trigger(arg_name="msg", queue_name="e2e-doomed", connection=STORAGE)
def doomed(msg: func.QueueMessage) -> None:
    logging.warning("doomed attempt %d", msg.dequeue_count)
    raise RuntimeError("this message can never be processed")


@app.route(route="ping", methods=["POST"])
@app.queue_output(arg_name="msg", queue_name="e2e-wake", connection=STORAGE)
def ping(req: func.HttpRequest, msg: func.Out[str]) -> func.HttpResponse:
    msg.set(req.get_body().decode())
    return func.HttpResponse("queued", status_code=202)


@app.queue_trigger(arg_name="msg", queue_name="e2e-wake", connection=STORAGE)
@app.queue_output(arg_name="out", queue_name="e2e-pongs", connection=STORAGE)
def pong(msg: str, out: func.Out[str]) -> None:
    out.set(json.dumps({"body": msg, "processed_at": time.time()}))
