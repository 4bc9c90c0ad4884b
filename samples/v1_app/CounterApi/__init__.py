"""Reads a counter entity's state; answers through a named http output (``func.Out``)."""

import json

import azure.durable_functions as df
import azure.functions as func
from __app__.shared_code import greeting  # the absolute form of the same import


async def main(req: func.HttpRequest, client: str, res: func.Out[func.HttpResponse]) -> None:
    durable = df.DurableOrchestrationClient(client)
    state = await durable.read_entity_state(df.EntityId("Counter", req.route_params["key"]))
    body = {"exists": state.entity_exists, "value": state.entity_state, "note": greeting("counter")}
    res.set(func.HttpResponse(json.dumps(body), mimetype="application/json"))
