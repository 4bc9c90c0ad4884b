"""The engine's runners when connected gRPC workers do the work: the broker behind all three."""

from __future__ import annotations

from ..core.worker import Runners
from .broker import WorkItemBroker, WorkKind
from .entity_runner import GrpcEntityRunner
from .proto import pb
from .runners import GrpcActivityRunner, GrpcOrchestrationRunner


def broker_runners(broker: WorkItemBroker, *, max_batch_size: int, reorder_window_minutes: float) -> Runners:
    async def orchestrate(name: str, request: pb.OrchestratorRequest) -> pb.OrchestratorResponse:
        response: pb.OrchestratorResponse = await broker.submit(
            WorkKind.ORCHESTRATION,
            name,
            lambda token: pb.WorkItem(orchestratorRequest=request, completionToken=token),
        )
        return response

    async def act(name: str, request: pb.ActivityRequest) -> pb.ActivityResponse:
        response: pb.ActivityResponse = await broker.submit(
            WorkKind.ACTIVITY, name, lambda token: pb.WorkItem(activityRequest=request, completionToken=token)
        )
        return response

    async def operate(name: str, request: pb.EntityBatchRequest) -> pb.EntityBatchResult:
        result: pb.EntityBatchResult = await broker.submit(
            WorkKind.ENTITY, name, lambda token: pb.WorkItem(entityRequest=request, completionToken=token)
        )
        return result

    return Runners(
        GrpcOrchestrationRunner(orchestrate),
        GrpcActivityRunner(act),
        GrpcEntityRunner(
            operate, max_batch_size=max_batch_size, reorder_window_minutes=reorder_window_minutes
        ),
    )
