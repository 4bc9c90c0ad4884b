"""The app the replay tests record histories with: an order flow of two activities and a timer.

The tests replay its histories against copies of this file with one deliberate change each, so the
lines they change are kept simple to find.
"""

from datetime import timedelta
from typing import Any

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def process_order(context: df.DurableOrchestrationContext) -> Any:
    order = context.get_input()
    reserved = yield context.call_activity("reserve_stock", order)
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=order["wait_s"]))
    charged = yield context.call_activity("charge_card", order)
    return {"reserved": reserved, "charged": charged}


@app.activity_trigger(input_name="order")
def reserve_stock(order: dict[str, Any]) -> str:
    return f"reserved {order['item']}"


@app.activity_trigger(input_name="order")
def charge_card(order: dict[str, Any]) -> str:
    return f"charged {order['amount']}"
