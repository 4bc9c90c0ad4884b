"""The worker half of ``TaskHubSidecarService``: the work-item stream and the reports on each item."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .broker import WorkItemBroker
from .proto import pb
from .status_codes import streaming, unary


class WorkerRpcs:
    """Mixed into the servicer; ``broker`` holds what the engine has handed out."""

    broker: WorkItemBroker

    @streaming
    async def GetWorkItems(self, request: pb.GetWorkItemsRequest, context: Any) -> AsyncIterator[pb.WorkItem]:
        stream = self.broker.connect(request)
        try:
            async for item in stream.items():
                yield item
        finally:
            self.broker.disconnect(stream)

    @unary
    async def CompleteOrchestratorTask(
        self, request: pb.OrchestratorResponse, context: Any
    ) -> pb.CompleteTaskResponse:
        self.broker.complete(request.completionToken, request)
        return pb.CompleteTaskResponse()

    @unary
    async def CompleteActivityTask(
        self, request: pb.ActivityResponse, context: Any
    ) -> pb.CompleteTaskResponse:
        self.broker.complete(request.completionToken, request)
        return pb.CompleteTaskResponse()

    @unary
    async def CompleteEntityTask(
        self, request: pb.EntityBatchResult, context: Any
    ) -> pb.CompleteTaskResponse:
        self.broker.complete(request.completionToken, request)
        return pb.CompleteTaskResponse()

    @unary
    async def AbandonTaskOrchestratorWorkItem(
        self, request: pb.AbandonOrchestrationTaskRequest, context: Any
    ) -> pb.AbandonOrchestrationTaskResponse:
        self.broker.abandon(request.completionToken)
        return pb.AbandonOrchestrationTaskResponse()

    @unary
    async def AbandonTaskActivityWorkItem(
        self, request: pb.AbandonActivityTaskRequest, context: Any
    ) -> pb.AbandonActivityTaskResponse:
        self.broker.abandon(request.completionToken)
        return pb.AbandonActivityTaskResponse()

    @unary
    async def AbandonTaskEntityWorkItem(
        self, request: pb.AbandonEntityTaskRequest, context: Any
    ) -> pb.AbandonEntityTaskResponse:
        self.broker.abandon(request.completionToken)
        return pb.AbandonEntityTaskResponse()
