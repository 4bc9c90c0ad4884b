"""The app the test host's own tests serve: a race of an event with a long timer, a chain, a parent
with children, and an async activity."""

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def event_or_timeout(context: df.DurableOrchestrationContext):
    """Waits ``input`` seconds for the event ``Go``; returns which came first and when it ended."""
    timer = context.create_timer(context.current_utc_datetime + timedelta(seconds=context.get_input()))
    event = context.wait_for_external_event("Go")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        return {"winner": "event", "data": event.result}
    return {"winner": "timer"}


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    """Sleeps ``input`` seconds of durable time, then reports when it woke."""
    began = context.current_utc_datetime
    yield context.create_timer(began + timedelta(seconds=context.get_input()))
    return (context.current_utc_datetime - began).total_seconds()


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("double", context.get_input())
    second = yield context.call_activity("double_async", first)
    return second


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    children = [context.call_sub_orchestrator("child", item) for item in context.get_input()]
    return (yield context.task_all(children))


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("double", context.get_input()))


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


@app.activity_trigger(input_name="value")
async def double_async(value: int) -> int:
    return value * 2
