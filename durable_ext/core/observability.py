"""Lifecycle log lines and OpenTelemetry spans for orchestration episodes and activities.

Two middlewares for the worker's pipelines. Each episode is a span ``orchestration <name>`` and each
activity a span ``activity <name>`` (no-ops unless an OpenTelemetry tracer provider is configured).
Each lifecycle step users debug with is one log line on ``durable_ext.lifecycle``: started, each
activity / sub-orchestration / timer scheduled, completed, failed with its reason, continued as new,
and each activity's outcome (an entity's batches are entity work: its runner logs them). Every line
carries ``instance_id``, ``execution_id``, ``function`` and ``episode`` as record attributes, which the
JSON log format prints as fields.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace

from .entities import is_entity_instance
from .history import EventType, OrchestrationStatus
from .middleware import DispatchContext, Next
from .replay import ReplayOutcome
from .state import OrchestrationRuntimeState

log = logging.getLogger("durable_ext.lifecycle")
tracer = trace.get_tracer("durable_ext")
_NO_SPAN = contextlib.nullcontext(trace.INVALID_SPAN)

_SCHEDULED = {
    EventType.TaskScheduled: "scheduled activity",
    EventType.SubOrchestrationInstanceCreated: "started sub-orchestration",
    EventType.TimerCreated: "created a timer",
    EventType.EventSent: "sent an event",
}


def _span(name: str, fields: Mapping[str, Any]) -> AbstractContextManager[trace.Span]:
    """The span ``name`` with ``fields`` as attributes, made current. While no tracer provider is
    configured there is none: the API's no-op tracer would only make the current span current again."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return _NO_SPAN
    attributes = {f"durable.{key}": value for key, value in fields.items() if value is not None}
    return tracer.start_as_current_span(name, attributes=attributes)


def _episode(state: OrchestrationRuntimeState) -> int:
    return 1 + sum(1 for e in state.past_events if e.event_type == EventType.OrchestratorStarted)


def orchestration_fields(state: OrchestrationRuntimeState) -> dict[str, Any]:
    return {
        "instance_id": state.instance_id,
        "execution_id": state.execution_id,
        "function": state.name,
        "episode": _episode(state),
    }


async def observe_orchestration(context: DispatchContext, call_next: Next) -> None:
    state: OrchestrationRuntimeState = context.properties["runtime_state"]
    fields = orchestration_fields(state)
    name, instance_id = state.name, state.instance_id
    entity = is_entity_instance(instance_id)  # its runner logs its batches as entity work
    if not entity and any(e.event_type == EventType.ExecutionStarted for e in state.new_events):
        log.info("Orchestration '%s' (%s) started", name, instance_id, extra=fields)
    with _span(f"orchestration {name}", fields):
        await call_next()
    if entity:
        return
    outcome: ReplayOutcome = context.properties["outcome"]
    for command in outcome.new_commands:
        verb = _SCHEDULED.get(command.event.event_type)
        if verb is not None:
            target = command.event.name or command.event.get("InstanceId") or command.event.get("FireAt")
            log.info("Orchestration '%s' (%s) %s '%s'", name, instance_id, verb, target, extra=fields)
    _log_completion(outcome, name, instance_id, fields)


def _log_completion(outcome: ReplayOutcome, name: str | None, instance_id: str | None, fields: Any) -> None:
    completion = outcome.completion
    if completion is None:
        return
    if completion.status == OrchestrationStatus.Failed:
        log.warning("Orchestration '%s' (%s) failed: %s", name, instance_id, completion.result, extra=fields)
    elif completion.status == OrchestrationStatus.ContinuedAsNew:
        log.info("Orchestration '%s' (%s) continued as new", name, instance_id, extra=fields)
    else:
        log.info(
            "Orchestration '%s' (%s) %s", name, instance_id, completion.status.name.lower(), extra=fields
        )


async def observe_activity(context: DispatchContext, call_next: Next) -> None:
    message = context.work_item.message
    scheduled = message.event
    fields = {
        "instance_id": message.instance_id,
        "execution_id": message.execution_id,
        "function": scheduled.name,
        "task_id": scheduled.event_id,
    }
    began = time.perf_counter()
    with _span(f"activity {scheduled.name}", fields) as span:
        await call_next()
        response = context.properties["response"].event
        elapsed_ms = (time.perf_counter() - began) * 1000
        if response.event_type == EventType.TaskFailed:
            span.set_status(trace.Status(trace.StatusCode.ERROR, str(response.get("Reason") or "")))
            log.warning(
                "Activity '%s' of %s failed after %.0f ms: %s",
                scheduled.name,
                message.instance_id,
                elapsed_ms,
                response.get("Reason"),
                extra=fields,
            )
        else:
            log.info(
                "Activity '%s' of %s completed in %.0f ms",
                scheduled.name,
                message.instance_id,
                elapsed_ms,
                extra=fields,
            )
