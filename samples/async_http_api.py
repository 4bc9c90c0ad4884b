"""Async HTTP API: start work over HTTP and let the client poll the status URL until it is done.

The classic starter answers 202 with `statusQueryGetUri`; polling it returns 202 while running and
200 with the output once done:
    curl -i -X POST http://localhost:7071/api/orchestrators/process_order \\
        -H 'Content-Type: application/json' -d '{"order": 42, "items": 3}'
"""

import azure.durable_functions as df

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def process_order(context: df.DurableOrchestrationContext):
    order = context.get_input() or {}
    context.set_custom_status({"stage": "reserving"})
    reserved = yield context.call_activity("reserve_items", order)
    context.set_custom_status({"stage": "charging"})
    receipt = yield context.call_activity("charge", reserved)
    return {"order": order.get("order"), "receipt": receipt}


@bp.activity_trigger(input_name="order")
def reserve_items(order: dict) -> dict:
    return {"order": order.get("order"), "reserved": int(order.get("items", 1))}


@bp.activity_trigger(input_name="reservation")
def charge(reservation: dict) -> str:
    return f"order-{reservation['order']}-charged-for-{reservation['reserved']}-items"
