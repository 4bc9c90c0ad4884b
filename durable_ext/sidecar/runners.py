"""The engine's orchestration and activity runners for the gRPC protocol.

Each runner turns the engine's work into the protocol's request, has it executed (by a connected
worker through the broker, or by the app's own 2.x SDK in this process) and reads the response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..core.replay import ReplayOutcome
from ..core.state import OrchestrationRuntimeState
from ..errors import ActivityFailedError
from .actions import ActionReader
from .failure_details import details_from_proto
from .history_codec import HistoryTranslator
from .proto import optional_text, pb, text

ExecuteOrchestration = Callable[[str, pb.OrchestratorRequest], Awaitable[pb.OrchestratorResponse]]
"""Runs an orchestrator (by name) over a request and gives its response."""
ExecuteActivity = Callable[[str, pb.ActivityRequest], Awaitable[pb.ActivityResponse]]
ExecuteEntity = Callable[[str, pb.EntityBatchRequest], Awaitable[pb.EntityBatchResult]]


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
    """Runs an episode as an ``OrchestratorRequest`` and records the actions of its response."""

    def __init__(self, execute: ExecuteOrchestration) -> None:
        self.execute = execute

    async def run(self, state: OrchestrationRuntimeState) -> ReplayOutcome:
        response = await self.execute(state.name or "", orchestrator_request(state))
        return ActionReader(state).outcome(response)


class GrpcActivityRunner:
    """Runs a scheduled task as an ``ActivityRequest``."""

    def __init__(self, execute: ExecuteActivity) -> None:
        self.execute = execute

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
        response = await self.execute(name, request)
        if response.HasField("failureDetails"):
            failure = response.failureDetails
            raise ActivityFailedError(
                failure.errorMessage, optional_text(failure, "stackTrace"), details_from_proto(failure)
            )
        return optional_text(response, "result")
