"""Starts HelloCities for each queue message; the message is a JSON list of cities."""

import logging

import azure.durable_functions as df
import azure.functions as func
from shared_code import greeting  # the script root is on sys.path too


async def main(msg: func.QueueMessage, starter: str) -> None:
    client = df.DurableOrchestrationClient(starter)
    instance_id = await client.start_new("HelloCities", f"queued-{msg.id}", msg.get_json())
    logging.info("%s Started HelloCities %s from queue message %s", greeting("queue"), instance_id, msg.id)
