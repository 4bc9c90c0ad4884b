"""The engine's runners when gRPC workers do the work: one broker behind all three."""

from __future__ import annotations

from ..extension.extension import Runners
from .broker import WorkItemBroker
from .entity_runner import GrpcEntityRunner
from .runners import GrpcActivityRunner, GrpcOrchestrationRunner


def grpc_runners(broker: WorkItemBroker, *, max_batch_size: int, reorder_window_minutes: float) -> Runners:
    return Runners(
        GrpcOrchestrationRunner(broker),
        GrpcActivityRunner(broker),
        GrpcEntityRunner(
            broker, max_batch_size=max_batch_size, reorder_window_minutes=reorder_window_minutes
        ),
    )
