"""The protobuf messages of ``TaskHubSidecarService`` and the small conversions every module needs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as pb_grpc
from google.protobuf import empty_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from google.protobuf.wrappers_pb2 import StringValue

from ..core.history import OrchestrationStatus

__all__ = ["empty_pb2", "pb", "pb_grpc"]

# The protobuf enum names each DurableTask status (the numbers differ: the proto has no gaps).
_STATUS_TO_PROTO: dict[OrchestrationStatus, int] = {
    OrchestrationStatus.Running: pb.ORCHESTRATION_STATUS_RUNNING,
    OrchestrationStatus.Completed: pb.ORCHESTRATION_STATUS_COMPLETED,
    OrchestrationStatus.ContinuedAsNew: pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
    OrchestrationStatus.Failed: pb.ORCHESTRATION_STATUS_FAILED,
    OrchestrationStatus.Canceled: pb.ORCHESTRATION_STATUS_CANCELED,
    OrchestrationStatus.Terminated: pb.ORCHESTRATION_STATUS_TERMINATED,
    OrchestrationStatus.Pending: pb.ORCHESTRATION_STATUS_PENDING,
    OrchestrationStatus.Suspended: pb.ORCHESTRATION_STATUS_SUSPENDED,
}
_STATUS_FROM_PROTO = {number: status for status, number in _STATUS_TO_PROTO.items()}


def status_to_proto(status: OrchestrationStatus) -> Any:
    return _STATUS_TO_PROTO[status]


def status_from_proto(number: int) -> OrchestrationStatus:
    """The DurableTask status of a protobuf ``OrchestrationStatus``; ``ValueError`` for an unknown one."""
    try:
        return _STATUS_FROM_PROTO[number]
    except KeyError:
        raise ValueError(f"{number} is not an OrchestrationStatus") from None


def text(value: str | None) -> StringValue | None:
    """A ``google.protobuf.StringValue`` for an optional string (``None`` leaves the field unset)."""
    return None if value is None else StringValue(value=value)


def optional_text(message: Any, field: str) -> str | None:
    """The string in an optional ``StringValue`` field, ``None`` when the field is unset."""
    return getattr(message, field).value if message.HasField(field) else None


def stamp(when: datetime | None) -> Timestamp | None:
    if when is None:
        return None
    value = Timestamp()
    value.FromDatetime(when.astimezone(UTC))
    return value


def optional_time(message: Any, field: str) -> datetime | None:
    """The aware UTC time in an optional ``Timestamp`` field, ``None`` when it is unset or zero."""
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    if value.seconds == 0 and value.nanos == 0:
        return None
    return value.ToDatetime(tzinfo=UTC)
