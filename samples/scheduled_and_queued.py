"""Starting orchestrations from a schedule and from a queue, beside the durable functions themselves.

* ``nightly_cleanup`` is a timer (schedule from the app setting ``NIGHTLY_SCHEDULE``, NCRONTAB with
  seconds first) that starts the ``purge_old_orders`` orchestration once a night. Every worker of the
  app shares the schedule, so it starts once however many run.
* ``enqueue_order`` (HTTP) puts an order on the ``orders`` queue through a queue output; ``order_queued``
  (queue trigger) starts ``process_order`` for each message, with the instance id the order names.

Start it:
    curl -i -X POST http://localhost:7071/api/orders -d '{"order": 7, "items": 2}'
"""

import json
import logging

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()


@bp.timer_trigger(schedule="%NIGHTLY_SCHEDULE%", arg_name="timer")
@bp.durable_client_input(client_name="client")
async def nightly_cleanup(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    if timer.past_due:
        logging.info("The nightly cleanup is running late (the host was down at its time)")
    instance_id = await client.start_new("purge_old_orders")
    logging.info("Started purge_old_orders %s", instance_id)


@bp.orchestration_trigger(context_name="context")
def purge_old_orders(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("count_old_orders", None))


@bp.activity_trigger(input_name="unused")
def count_old_orders(unused: None) -> int:
    return 0


@bp.route(route="orders", methods=["POST"])
@bp.queue_output(arg_name="orders", queue_name="orders", connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def enqueue_order(
    req: func.HttpRequest, orders: func.Out[str], client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    order = req.get_json()
    instance_id = f"order-{order['order']}"
    orders.set(json.dumps({"instance_id": instance_id, **order}))
    links = client.create_http_management_payload(instance_id)
    return func.HttpResponse(json.dumps(links), status_code=202, mimetype="application/json")


@bp.queue_trigger(arg_name="msg", queue_name="orders", connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def order_queued(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    order = msg.get_json()
    await client.start_new("process_order", order.pop("instance_id"), order)
