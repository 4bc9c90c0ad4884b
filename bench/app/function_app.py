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
