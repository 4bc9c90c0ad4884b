"""Replaying the SDK's cumulative action list as an orchestration program.

The SDK re-runs the user's orchestrator every episode and returns every action scheduled so far. This
walks that list in order, scheduling each through the replay context (which assigns task ids as DTFx
does) and awaiting it; compound actions schedule their children first, then await all or any of them.
When every awaited action is done, the SDK's verdict (failed, done, continue-as-new) is applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..core.replay import ProgramFactory, ReplayContext
from ..core.retry import RetryOptions, with_retry
from ..core.tasks import Program, ReplayTask, when_all, when_any
from ..core.timefmt import parse_datetime
from .protocol import OrchestratorState

HTTP_ACTIVITY_NAME = "BuiltIn::HttpActivity"


class UnsupportedActionError(Exception):
    pass


ACTION_NAMES = {
    0: "CallActivity",
    1: "CallActivityWithRetry",
    2: "CallSubOrchestrator",
    3: "CallSubOrchestratorWithRetry",
    4: "ContinueAsNew",
    5: "CreateTimer",
    6: "WaitForExternalEvent",
    7: "CallEntity",
    8: "CallHttp",
    9: "SignalEntity",
    10: "ScheduledSignalEntity",
    11: "WhenAny",
    12: "WhenAll",
}


def _done() -> ReplayTask:
    task = ReplayTask()
    task.complete(None)
    return task


def _call_activity(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    return ctx.schedule_activity(str(action["functionName"]), json.dumps([action.get("input")]))


def as_stored_input(sdk_input: Any) -> str | None:
    """The SDK sends a child's input as ``df_dumps(x)`` text; the reference stores the JSON of that text."""
    return None if sdk_input is None else json.dumps(sdk_input)


def _call_sub_orchestrator(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    return ctx.create_sub_orchestration(
        str(action["functionName"]), action.get("instanceId") or None, as_stored_input(action.get("input"))
    )


def _retry_options(action: dict[str, Any]) -> RetryOptions:
    try:
        return RetryOptions.from_wire(action.get("retryOptions") or {})
    except (TypeError, ValueError) as exc:
        name = ACTION_NAMES.get(int(action.get("actionType", -1)), "retry")
        raise UnsupportedActionError(f"the retry options of its {name} action are invalid: {exc}") from exc


def _call_activity_with_retry(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    options = _retry_options(action)
    return with_retry(ctx, lambda: _call_activity(ctx, action), options)


def _call_sub_orchestrator_with_retry(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    options = _retry_options(action)
    return with_retry(ctx, lambda: _call_sub_orchestrator(ctx, action), options)


def _call_http(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    request = action.get("httpRequest") or {}
    return ctx.schedule_activity(HTTP_ACTIVITY_NAME, json.dumps([request]))


def _create_timer(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    timer = ctx.create_timer(parse_datetime(str(action["fireAt"])))
    return _done() if action.get("isCanceled") else timer


def _wait_for_event(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    return ctx.wait_for_event(str(action["externalEventName"]))


def _entity_request(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    signal = int(action["actionType"]) == 9
    return ctx.send_entity_request(
        str(action["instanceId"]),
        str(action.get("operation") or ""),
        as_stored_input(action.get("input")),
        signal=signal,
    )


def _continue_as_new(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    return _done()  # no id, nothing recorded: applied when the SDK says it is done


def _compound(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    children = [schedule(ctx, child) for child in action.get("compoundActions") or []]
    return when_all(children) if action["actionType"] == 12 else when_any(children)


_SCHEDULERS: dict[int, Callable[[ReplayContext, dict[str, Any]], ReplayTask]] = {
    0: _call_activity,
    1: _call_activity_with_retry,
    2: _call_sub_orchestrator,
    3: _call_sub_orchestrator_with_retry,
    8: _call_http,
    4: _continue_as_new,
    5: _create_timer,
    6: _wait_for_event,
    7: _entity_request,
    9: _entity_request,
    11: _compound,
    12: _compound,
}


def schedule(ctx: ReplayContext, action: dict[str, Any]) -> ReplayTask:
    action_type = int(action.get("actionType", -1))
    scheduler = _SCHEDULERS.get(action_type)
    if scheduler is None:
        name = ACTION_NAMES.get(action_type, f"actionType {action_type}")
        raise UnsupportedActionError(f"durable-ext does not support the {name} action yet")
    return scheduler(ctx, action)


def output_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def shim_program(orchestrator_name: str, state: OrchestratorState) -> ProgramFactory:
    def program(ctx: ReplayContext) -> Program:
        for action in state.actions:
            try:
                task = schedule(ctx, action)
            except UnsupportedActionError as exc:
                ctx.fail(f"Orchestrator function '{orchestrator_name}' failed: {exc}")
                return
            yield task  # a failed task is not an error here: the SDK already saw it and decided
        if state.error is not None:
            ctx.fail(f"Orchestrator function '{orchestrator_name}' failed: {state.error}")
        elif state.is_done:
            restart = next((a for a in state.actions if a.get("actionType") == 4), None)
            if restart is not None:
                ctx.continue_as_new(as_stored_input(restart.get("input")))
            else:
                ctx.complete(output_json(state.output) if state.output is not None else None)

    return program
