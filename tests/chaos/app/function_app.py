"""The app the chaos tests run on several workers: chains and fan-outs whose activities log each run,
and slow chains that each end by adding 1 to a counter entity (which clients signal too)."""

import os
import time

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def chaos_chain(context: df.DurableOrchestrationContext):
    steps = context.get_input()["n"]
    results = []
    for i in range(steps):
        results.append((yield context.call_activity("chaos_step", {"id": context.instance_id, "i": i})))
    return results


@app.orchestration_trigger(context_name="context")
def chaos_fan(context: df.DurableOrchestrationContext):
    width = context.get_input()["n"]
    calls = [context.call_activity("chaos_step", {"id": context.instance_id, "i": i}) for i in range(width)]
    results = yield context.task_all(calls)
    return len(results)


@app.orchestration_trigger(context_name="context")
def chaos_counted(context: df.DurableOrchestrationContext):
    steps = context.get_input()["n"]
    results = []
    for i in range(steps):
        results.append((yield context.call_activity("chaos_step", {"id": context.instance_id, "i": i})))
    context.signal_entity(df.EntityId("counter", "chaos"), "add", 1)
    return results


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
        context.set_state(value)
    context.set_result(value)


@app.activity_trigger(input_name="work")
def chaos_step(work: dict) -> str:
    with open(os.environ["CHAOS_RUN_LOG"], "a") as log:  # one short append per run: safe across processes
        log.write(f"{work['id']} {work['i']}\n")
    time.sleep(float(os.environ.get("CHAOS_STEP_SECONDS", "0")))  # keeps work in flight when a worker dies
    return f"step {work['i']}"
