"""The app the benchmarks run: chains of N activities and a fan-out."""

import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    steps = context.get_input() or 1
    results = []
    for step in range(steps):
        results.append((yield context.call_activity("hello", step)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    count = context.get_input() or 10
    results = yield context.task_all([context.call_activity("hello", i) for i in range(count)])
    return len(results)


@app.activity_trigger(input_name="step")
def hello(step: int) -> str:
    return f"Hello {step}!"


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    if context.operation_name == "add":
        value += context.get_input()
    context.set_state(value)
    context.set_result(value)


@app.orchestration_trigger(context_name="context")
def call_counter(context: df.DurableOrchestrationContext):
    job = context.get_input()
    entity = df.EntityId("counter", job["key"])
    value = None
    for _ in range(job["calls"]):
        value = yield context.call_entity(entity, "add", 1)
    return value


@app.orchestration_trigger(context_name="context")
def events(context: df.DurableOrchestrationContext):
    expected = context.get_input()
    total = 0
    for _ in range(expected):
        total += 1 + 0 * (yield context.wait_for_external_event("tick"))
    return total
