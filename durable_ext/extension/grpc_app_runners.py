"""Running an app of the 2.x SDK (``azure-functions-durable`` 2.x) in this process.

The 2.x SDK speaks the gRPC protocol's messages: its orchestrator and entity functions take a base64
``OrchestratorRequest`` or ``EntityBatchRequest`` and return the base64 response, and its activities
take their input as plain JSON. The engine's gRPC runners build the requests and read the responses;
here they are executed by the app's own functions instead of a connected worker.
"""

from __future__ import annotations

import base64
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from azure.functions import meta
from google.protobuf.message import Message

from ..core.worker import Runners
from ..sidecar.entity_runner import GrpcEntityRunner
from ..sidecar.proto import optional_text, pb, text
from ..sidecar.runners import GrpcActivityRunner, GrpcOrchestrationRunner
from .functions import FunctionRegistry

Response = TypeVar("Response", bound=Message)


def _encoded(request: Message) -> str:
    return base64.b64encode(request.SerializeToString()).decode("ascii")


def _decoded(kind: type[Response], returned: Any) -> Response:
    response = kind()
    response.ParseFromString(base64.b64decode(str(returned)))
    return response


def error_type(exc: BaseException) -> str:
    """An exception's type as the Durable Task SDKs name it (``builtins.ValueError``)."""
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def failure_of(exc: BaseException) -> pb.TaskFailureDetails:
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return pb.TaskFailureDetails(errorType=error_type(exc), errorMessage=str(exc), stackTrace=text(stack))


def _not_found(kind: str, name: str, functions: FunctionRegistry) -> str:
    return (
        f"The {kind} function '{name}' doesn't exist, is disabled, or is not an {kind} function. "
        "Check the name and that the app registers it." + functions.why_not_loaded(name)
    )


def activity_input(input_json: str | None) -> Any:
    """An activity's input as the activity trigger's converter (the app's SDK's) decodes it."""
    converter = meta.get_binding_registry().get("activityTrigger")
    datum = meta.Datum(input_json if input_json is not None else "null", "json")
    return converter.decode(datum, trigger_metadata=None)


def activity_result(result: Any) -> str | None:
    """An activity's result as JSON text, encoded by the activity trigger's converter."""
    converter = meta.get_binding_registry().get("activityTrigger")
    encoded = converter.encode(result, expected_type=None)
    return None if encoded is None or encoded.value is None else str(encoded.value)


class AppExecution:
    """Executes the protocol's requests with the app's functions."""

    def __init__(
        self,
        functions: FunctionRegistry,
        decode_activity_input: Callable[[str | None], Any] = activity_input,
        encode_activity_result: Callable[[Any], str | None] = activity_result,
    ) -> None:
        self.functions = functions
        self.decode_activity_input = decode_activity_input
        self.encode_activity_result = encode_activity_result

    async def orchestrate(self, name: str, request: pb.OrchestratorRequest) -> pb.OrchestratorResponse:
        handler = self.functions.orchestrator(name)
        if handler is None:
            return _failed_orchestration(request, _not_found("orchestrator", name, self.functions))
        try:
            returned = await _awaited(handler(_encoded(request)))
        except Exception as exc:  # the SDK reports the orchestrator's own failures in its response
            return _failed_orchestration(
                request, f"Orchestrator function '{name}' failed: {error_type(exc)}: {exc}"
            )
        return _decoded(pb.OrchestratorResponse, returned)

    async def operate(self, name: str, request: pb.EntityBatchRequest) -> pb.EntityBatchResult:
        handler = self.functions.entity(name)
        if handler is None:
            failure = pb.TaskFailureDetails(
                errorType="EntityNotFound", errorMessage=_not_found("entity", name, self.functions)
            )
            return pb.EntityBatchResult(
                results=[pb.OperationResult(failure=pb.OperationResultFailure(failureDetails=failure))]
                * len(request.operations),
                entityState=request.entityState if request.HasField("entityState") else None,
            )
        return _decoded(pb.EntityBatchResult, await _awaited(handler(_encoded(request))))

    async def act(self, name: str, request: pb.ActivityRequest) -> pb.ActivityResponse:
        handler = self.functions.activity(name)
        instance_id, task_id = request.orchestrationInstance.instanceId, request.taskId
        if handler is None:
            failure = pb.TaskFailureDetails(
                errorType="ActivityNotFound", errorMessage=_not_found("activity", name, self.functions)
            )
            return pb.ActivityResponse(instanceId=instance_id, taskId=task_id, failureDetails=failure)
        try:
            result = await handler(self.decode_activity_input(optional_text(request, "input")))
            return pb.ActivityResponse(
                instanceId=instance_id, taskId=task_id, result=text(self.encode_activity_result(result))
            )
        except Exception as exc:
            return pb.ActivityResponse(instanceId=instance_id, taskId=task_id, failureDetails=failure_of(exc))


async def _awaited(value: Any) -> Any:
    return await value if isinstance(value, Awaitable) else value


def _failed_orchestration(request: pb.OrchestratorRequest, message: str) -> pb.OrchestratorResponse:
    failure = pb.TaskFailureDetails(errorType="OrchestrationFailed", errorMessage=message)
    complete = pb.CompleteOrchestrationAction(
        orchestrationStatus=pb.ORCHESTRATION_STATUS_FAILED, failureDetails=failure
    )
    return pb.OrchestratorResponse(
        instanceId=request.instanceId, actions=[pb.OrchestratorAction(id=-1, completeOrchestration=complete)]
    )


def app_runners(execution: AppExecution, *, max_batch_size: int, reorder_window_minutes: float) -> Runners:
    return Runners(
        GrpcOrchestrationRunner(execution.orchestrate),
        GrpcActivityRunner(execution.act),
        GrpcEntityRunner(
            execution.operate, max_batch_size=max_batch_size, reorder_window_minutes=reorder_window_minutes
        ),
    )
