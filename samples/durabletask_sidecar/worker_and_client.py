"""A plain ``durabletask`` worker and client on durable-ext as their backend.

Serve the task hub (here in Azurite, started for you by UseDevelopmentStorage=true, or ``--storage
memory``) and run this script:

    durable-ext sidecar --port 4001 &
    python samples/durabletask_sidecar/worker_and_client.py localhost:4001

Nothing here is specific to durable-ext: the same code runs on Azure's Durable Task Scheduler.
"""

from __future__ import annotations

import sys
from typing import Any

from durabletask import client, entities, task, worker


def greet(ctx: task.ActivityContext, city: str) -> str:
    return f"Hello {city}!"


def greetings(ctx: task.OrchestrationContext, cities: list[str]) -> Any:
    """Fans out one activity per city, counts them in an entity, and returns the greetings."""
    said = yield task.when_all([ctx.call_activity(greet, input=city) for city in cities])
    tally = entities.EntityInstanceId("tally", "greetings")
    yield ctx.call_entity(tally, "add", len(said))
    total = yield ctx.call_entity(tally, "get")
    return {"greetings": said, "total so far": total}


def tally(ctx: entities.EntityContext, amount: Any) -> Any:
    value = ctx.get_state(int, 0)
    if ctx.operation == "add":
        ctx.set_state(value + amount)
    return ctx.get_state(int, 0)


def main(address: str) -> None:
    w = worker.TaskHubGrpcWorker(host_address=address)
    w.add_orchestrator(greetings)
    w.add_activity(greet)
    w.add_entity(tally)
    w.start()
    try:
        c = client.TaskHubGrpcClient(host_address=address)
        instance_id = c.schedule_new_orchestration(greetings, input=["Tokyo", "Seattle", "London"])
        state = c.wait_for_orchestration_completion(instance_id, timeout=60)
        assert state is not None
        state.raise_if_failed()
        print(state.serialized_output)
    finally:
        w.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "localhost:4001")
