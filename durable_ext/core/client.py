"""The task hub client: start instances, send them events, read their state."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from ..errors import InstanceNotFoundError
from .history import EventType, HistoryEvent, event, execution_started
from .messages import TaskMessage
from .service import OrchestrationServiceClient
from .state import OrchestrationState


class TaskHubClient:
    def __init__(self, service: OrchestrationServiceClient) -> None:
        self.service = service

    async def start(
        self,
        name: str,
        input_json: str | None = None,
        instance_id: str | None = None,
        *,
        version: str = "",
        scheduled_start_time: datetime | None = None,
    ) -> str:
        """Start an orchestration; return its instance id (a new uuid4 hex unless given)."""
        instance_id = instance_id or uuid.uuid4().hex
        execution_id = uuid.uuid4().hex
        started = execution_started(
            instance_id=instance_id,
            execution_id=execution_id,
            name=name,
            input_json=input_json,
            version=version,
            scheduled_start_time=scheduled_start_time,
        )
        message = TaskMessage(started, instance_id, execution_id, visible_at=scheduled_start_time)
        await self.service.create_instance(message)
        return instance_id

    async def raise_event(self, instance_id: str, name: str, input_json: str | None) -> None:
        raised = event(EventType.EventRaised, -1, Name=name, Input=input_json)
        await self.service.send_message(TaskMessage(raised, instance_id, None))

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        terminated = event(EventType.ExecutionTerminated, -1, Input=reason)
        await self.service.send_message(TaskMessage(terminated, instance_id, None))

    async def get_state(self, instance_id: str) -> OrchestrationState | None:
        return await self.service.get_state(instance_id)

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        return await self.service.get_history(instance_id)

    async def wait_for_completion(
        self, instance_id: str, timeout_s: float, poll_interval_s: float = 0.1
    ) -> OrchestrationState:
        """Poll until the instance is in a terminal state; raise ``TimeoutError`` after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            state = await self.get_state(instance_id)
            if state is not None and state.status.is_terminal:
                return state
            if loop.time() >= deadline:
                if state is None:
                    raise InstanceNotFoundError(instance_id)
                raise TimeoutError(
                    f"Instance '{instance_id}' is still {state.status.name} after {timeout_s:g} seconds."
                )
            await asyncio.sleep(poll_interval_s)
