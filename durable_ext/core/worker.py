"""The task hub worker: the orchestration and activity dispatchers over an orchestration service."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from ..errors import ActivityFailedError, ConcurrencyConflictError
from .dispatcher import WorkItemDispatcher
from .entities import is_entity_instance
from .episode import begin_episode, finish_episode, next_generation
from .history import EventType, OrchestrationStatus, event
from .messages import TaskMessage
from .middleware import DispatchContext, MiddlewarePipeline, Next
from .observability import observe_activity, observe_orchestration
from .replay import Completion, ReplayOutcome
from .service import ActivityWorkItem, EpisodeResult, OrchestrationService, OrchestrationWorkItem
from .state import OrchestrationRuntimeState

log = logging.getLogger("durable_ext.worker")


class OrchestrationRunner(Protocol):
    async def run(self, runtime_state: OrchestrationRuntimeState) -> ReplayOutcome: ...


class ActivityRunner(Protocol):
    async def run(
        self, name: str, input_json: str | None, instance_id: str, *, execution_id: str | None, task_id: int
    ) -> str | None:
        """Run the activity (task ``task_id`` of the execution); raise :class:`ActivityFailedError` when
        it fails."""
        ...


@dataclass(frozen=True)
class Runners:
    """Who runs a hub's orchestrations, entities and activities: the app's functions through its SDK,
    or the gRPC workers connected to the host."""

    orchestrations: OrchestrationRunner
    activities: ActivityRunner
    entities: OrchestrationRunner


def _merge(first: EpisodeResult, then: EpisodeResult) -> EpisodeResult:
    """One commit for an episode that continued as new: the new execution's history, both sets of
    messages (the old execution's are still sent)."""
    then.activity_messages = first.activity_messages + then.activity_messages
    then.orchestrator_messages = first.orchestrator_messages + then.orchestrator_messages
    then.continued_as_new = then.runtime_state
    if then.keep_custom_status and not first.keep_custom_status:  # an idle entity keeps the batch's
        then.custom_status, then.keep_custom_status = first.custom_status, False
    return then


class TaskHubWorker:
    def __init__(
        self,
        service: OrchestrationService,
        orchestrations: OrchestrationRunner,
        activities: ActivityRunner,
        *,
        max_concurrent_orchestrations: int,
        max_concurrent_activities: int,
        entities: OrchestrationRunner | None = None,
    ) -> None:
        self.service = service
        self.orchestrations = orchestrations
        self.entities = entities
        self.activities = activities
        self.orchestration_pipeline = MiddlewarePipeline(self._run_orchestration)
        self.orchestration_pipeline.add(observe_orchestration)
        self.activity_pipeline = MiddlewarePipeline(self._run_activity)
        self.activity_pipeline.add(observe_activity)
        self._orchestration_dispatcher = WorkItemDispatcher(
            "orchestration",
            service.lock_next_orchestration_work_item,
            self._process_orchestration,
            max_concurrent_orchestrations,
        )
        self._activity_dispatcher = WorkItemDispatcher(
            "activity",
            service.lock_next_activity_work_item,
            self._process_activity,
            max_concurrent_activities,
        )
        self.started = False

    async def start(self) -> None:
        await self.service.start()
        self._orchestration_dispatcher.start()
        self._activity_dispatcher.start()
        self.started = True

    async def stop(self, timeout_s: float = 10.0) -> None:
        if not self.started:
            return
        self.started = False
        await self.service.stop_receiving()
        await self._orchestration_dispatcher.stop(timeout_s)
        await self._activity_dispatcher.stop(timeout_s)
        await self.service.stop()

    # ---- orchestrations -----------------------------------------------------------------------
    async def _process_orchestration(self, item: OrchestrationWorkItem) -> None:
        state = begin_episode(item)
        try:
            outcome = await self._execute(item, state)
            result = finish_episode(state, outcome)
            while (
                outcome.completion is not None
                and outcome.completion.status == OrchestrationStatus.ContinuedAsNew
            ):
                state = next_generation(state, outcome)
                outcome = await self._execute(item, state)
                result = _merge(result, finish_episode(state, outcome))
            await self.service.complete_orchestration_work_item(item, result)
        except ConcurrencyConflictError as exc:
            log.warning("%s", exc)
            await self.service.abandon_orchestration_work_item(item, exc)
        except Exception as exc:
            log.exception("Episode of instance '%s' failed; its messages will be retried", item.instance_id)
            await self.service.abandon_orchestration_work_item(item, exc)

    async def _execute(self, item: OrchestrationWorkItem, state: OrchestrationRuntimeState) -> ReplayOutcome:
        """Run the orchestration over ``state`` unless it was terminated, is suspended or is poisoned."""
        if item.poison_reason is not None and not is_entity_instance(item.instance_id):
            return ReplayOutcome([], Completion(OrchestrationStatus.Failed, item.poison_reason))
        terminated = next(
            (e for e in state.new_events if e.event_type == EventType.ExecutionTerminated), None
        )
        if terminated is not None:  # user code does not run again
            return ReplayOutcome([], Completion(OrchestrationStatus.Terminated, terminated.input))
        if state.status == OrchestrationStatus.Suspended:  # events are recorded, user code waits
            return ReplayOutcome([], None, user_code_ran=False)
        context = DispatchContext(item, {"runtime_state": state})
        await self.orchestration_pipeline.run(context)
        outcome: ReplayOutcome = context.properties["outcome"]
        return outcome

    async def _run_orchestration(self, context: DispatchContext, _next: Next) -> None:
        state: OrchestrationRuntimeState = context.properties["runtime_state"]
        runner = self.orchestrations
        if self.entities is not None and is_entity_instance(state.instance_id):
            runner = self.entities
        context.properties["outcome"] = await runner.run(state)

    # ---- activities ---------------------------------------------------------------------------
    async def _process_activity(self, item: ActivityWorkItem) -> None:
        context = DispatchContext(item)
        try:
            await self.activity_pipeline.run(context)
            await self.service.complete_activity_work_item(item, context.properties["response"])
        except Exception:
            log.exception("Activity work item %s could not be completed; it will be retried", item.id)
            await self.service.abandon_activity_work_item(item)

    async def _run_activity(self, context: DispatchContext, _next: Next) -> None:
        item: ActivityWorkItem = context.work_item
        scheduled = item.message.event
        name = scheduled.name or ""
        try:
            if item.poison_reason is not None:
                raise ActivityFailedError(item.poison_reason)
            result = await self.activities.run(
                name,
                scheduled.input,
                item.message.instance_id,
                execution_id=item.message.execution_id,
                task_id=scheduled.event_id,
            )
            response = event(EventType.TaskCompleted, -1, TaskScheduledId=scheduled.event_id, Result=result)
        except ActivityFailedError as failure:
            response = event(
                EventType.TaskFailed,
                -1,
                TaskScheduledId=scheduled.event_id,
                Reason=failure.reason,
                Details=failure.details,
            )
            if failure.failure_details is not None:
                response.props["FailureDetails"] = failure.failure_details
        context.properties["response"] = TaskMessage(
            response, item.message.instance_id, item.message.execution_id
        )
