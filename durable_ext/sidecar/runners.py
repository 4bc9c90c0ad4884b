"""The engine's orchestration, entity and activity runners for work done by gRPC workers."""

from __future__ import annotations

from ..core.replay import ReplayOutcome
from ..core.state import OrchestrationRuntimeState
from ..errors import ActivityFailedError
from .actions import ActionReader
from .broker import WorkItemBroker, WorkKind
from .failure_details import details_from_proto
from .history_codec import HistoryTranslator
from .proto import optional_text, pb, text


def orchestrator_request(state: OrchestrationRuntimeState) -> pb.OrchestratorRequest:
    translator = HistoryTranslator()
    past = translator.translate(state.past_events)
    new = translator.translate(state.new_events)
    return pb.OrchestratorRequest(
        instanceId=state.instance_id or "",
        executionId=text(state.execution_id),
        pastEvents=past,
        newEvents=new,
    )


class GrpcOrchestrationRunner:
    """Sends an episode to a worker as an ``OrchestratorRequest`` and reads its response's actions."""

    def __init__(self, broker: WorkItemBroker) -> None:
        self.broker = broker

    async def run(self, state: OrchestrationRuntimeState) -> ReplayOutcome:
        request = orchestrator_request(state)

        def build(token: str) -> pb.WorkItem:
            return pb.WorkItem(orchestratorRequest=request, completionToken=token)

        response: pb.OrchestratorResponse = await self.broker.submit(
            WorkKind.ORCHESTRATION, state.name or "", build
        )
        return ActionReader(state).outcome(response)


class GrpcActivityRunner:
    """Sends a scheduled task to a worker as an ``ActivityRequest``."""

    def __init__(self, broker: WorkItemBroker) -> None:
        self.broker = broker

    async def run(
        self, name: str, input_json: str | None, instance_id: str, *, execution_id: str | None, task_id: int
    ) -> str | None:
        request = pb.ActivityRequest(
            name=name,
            input=text(input_json),
            orchestrationInstance=pb.OrchestrationInstance(
                instanceId=instance_id, executionId=text(execution_id)
            ),
            taskId=task_id,
        )

        def build(token: str) -> pb.WorkItem:
            return pb.WorkItem(activityRequest=request, completionToken=token)

        response: pb.ActivityResponse = await self.broker.submit(WorkKind.ACTIVITY, name, build)
        if response.HasField("failureDetails"):
            failure = response.failureDetails
            raise ActivityFailedError(
                failure.errorMessage, optional_text(failure, "stackTrace"), details_from_proto(failure)
            )
        return optional_text(response, "result")
