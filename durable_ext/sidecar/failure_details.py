"""Failures as DurableTask.Core's ``FailureDetails`` (in history props) and as ``TaskFailureDetails``.

History written by the 1.x protocol records a failure as ``Reason`` and ``Details`` only; read through
gRPC it becomes details of type ``TaskFailedException`` whose message is the reason and whose stack
trace is the details, so a 2.x orchestration can replay any hub's history.
"""

from __future__ import annotations

from typing import Any

from .proto import optional_text, pb, text

LEGACY_ERROR_TYPE = "TaskFailedException"
"""The error type a failure recorded without ``FailureDetails`` is given."""


def details_to_proto(details: dict[str, Any] | None) -> pb.TaskFailureDetails | None:
    if not details:
        return None
    inner = details.get("InnerFailure")
    return pb.TaskFailureDetails(
        errorType=str(details.get("ErrorType") or ""),
        errorMessage=str(details.get("ErrorMessage") or ""),
        stackTrace=text(details.get("StackTrace")),
        innerFailure=details_to_proto(inner if isinstance(inner, dict) else None),
        isNonRetriable=bool(details.get("IsNonRetriable")),
    )


def details_from_proto(failure: pb.TaskFailureDetails) -> dict[str, Any]:
    details: dict[str, Any] = {
        "ErrorType": failure.errorType,
        "ErrorMessage": failure.errorMessage,
        "StackTrace": optional_text(failure, "stackTrace"),
        "InnerFailure": details_from_proto(failure.innerFailure)
        if failure.HasField("innerFailure")
        else None,
        "IsNonRetriable": failure.isNonRetriable,
    }
    return details


def recorded_failure(props: dict[str, Any]) -> pb.TaskFailureDetails:
    """The failure of a ``TaskFailed``, ``SubOrchestrationInstanceFailed`` or ``ExecutionCompleted``."""
    details = props.get("FailureDetails")
    if isinstance(details, dict) and details:
        found = details_to_proto(details)
        assert found is not None
        return found
    reason = props.get("Reason") if "Reason" in props else props.get("Result")
    return pb.TaskFailureDetails(
        errorType=LEGACY_ERROR_TYPE,
        errorMessage=str(reason or ""),
        stackTrace=text(props.get("Details")),
    )


def failure_props(failure: pb.TaskFailureDetails) -> dict[str, Any]:
    """``Reason``, ``Details`` and ``FailureDetails`` for a failure reported over gRPC: the 1.x fields
    keep the monitor, the HTTP API and the 1.x SDK reading it as they read any failure."""
    return {
        "Reason": failure.errorMessage,
        "Details": optional_text(failure, "stackTrace"),
        "FailureDetails": details_from_proto(failure),
    }
