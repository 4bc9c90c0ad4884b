"""What a plain durabletask worker registers: one function per feature the sidecar must serve."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from durabletask import entities, task, worker


def hello(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def boom(ctx: task.ActivityContext, _: Any) -> None:
    raise ValueError("kaboom")


def slow(ctx: task.ActivityContext, marker: str) -> str:
    """Notes that it began (in the file ``marker``), then takes as long as ``SLOW_ACTIVITY_S`` says."""
    Path(marker).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("SLOW_ACTIVITY_S", "0")))
    return f"done by {os.getpid()}"


def double(ctx: task.OrchestrationContext, x: int) -> int:
    return x * 2


def features(ctx: task.OrchestrationContext, _: Any) -> Any:
    """Activities, a timer, a sub-orchestration, an external event and a failed activity."""
    first = yield ctx.call_activity(hello, input="Tokyo")
    second = yield ctx.call_activity(hello, input="Seattle")
    yield ctx.create_timer(timedelta(seconds=1))
    doubled = yield ctx.call_sub_orchestrator(double, input=21)
    approval = yield ctx.wait_for_external_event("approve")
    try:
        yield ctx.call_activity(boom)
        error = None
    except task.TaskFailedError as exc:
        error = [exc.details.error_type, exc.details.message]
    return [first, second, doubled, approval, error]


def fan_out(ctx: task.OrchestrationContext, count: int) -> Any:
    results = yield task.when_all([ctx.call_activity(hello, input=str(i)) for i in range(count)])
    return len(results)


def fails(ctx: task.OrchestrationContext, _: Any) -> Any:
    yield ctx.call_activity(hello, input="x")
    raise RuntimeError("orchestration broke")


def count_up(ctx: task.OrchestrationContext, n: int) -> Any:
    """Continues as new until ``n`` is 3, keeping the events that came meanwhile."""
    if n < 3:
        ctx.continue_as_new(n + 1, save_events=True)
        return None
    extra = yield ctx.wait_for_external_event("extra")
    return [n, extra]


def waits(ctx: task.OrchestrationContext, _: Any) -> Any:
    value = yield ctx.wait_for_external_event("go")
    return value


def runs_slow(ctx: task.OrchestrationContext, marker: str) -> Any:
    result = yield ctx.call_activity(slow, input=marker)
    return result


def counter(ctx: entities.EntityContext, value: Any) -> Any:
    state = ctx.get_state(int, 0)
    if ctx.operation == "add":
        ctx.set_state(state + value)
    elif ctx.operation == "get":
        return state
    elif ctx.operation == "fail":
        raise ValueError("entity broke")
    elif ctx.operation == "delete":
        ctx.delete_state()
    elif ctx.operation == "pass_on":
        ctx.signal_entity(entities.EntityInstanceId("counter", value), "add", 5)
    return None


def uses_entities(ctx: task.OrchestrationContext, key: str) -> Any:
    entity = entities.EntityInstanceId("counter", key)
    ctx.signal_entity(entity, "add", 1)
    yield ctx.call_entity(entity, "add", 2)
    value = yield ctx.call_entity(entity, "get")
    try:
        yield ctx.call_entity(entity, "fail")
        error = None
    except task.TaskFailedError as exc:
        error = exc.details.message
    return [value, error]


def moves_under_lock(ctx: task.OrchestrationContext, keys: list[str]) -> Any:
    """Moves the value of one counter into another inside a critical section over both."""
    source, target = (entities.EntityInstanceId("counter", k) for k in keys)
    with (yield ctx.lock_entities([source, target])):
        value = yield ctx.call_entity(source, "get")
        yield ctx.call_entity(target, "add", value)
        yield ctx.call_entity(source, "add", -value)
    moved = yield ctx.call_entity(target, "get")
    return moved


ORCHESTRATORS = (
    features,
    double,
    fan_out,
    fails,
    count_up,
    waits,
    runs_slow,
    uses_entities,
    moves_under_lock,
)
ACTIVITIES = (hello, boom, slow)


def register(w: worker.TaskHubGrpcWorker) -> worker.TaskHubGrpcWorker:
    for orchestrator in ORCHESTRATORS:
        w.add_orchestrator(orchestrator)
    for activity in ACTIVITIES:
        w.add_activity(activity)
    w.add_entity(counter)
    return w
