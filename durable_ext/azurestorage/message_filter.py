"""Which of a session's messages an episode may apply now, which wait, and which are dropped.

Rules follow the reference provider: a top-level start is accepted only once the client's Instances row
names its execution (the client writes the row after the message); responses that reference a task the
loaded history has not recorded yet wait; messages for a finished or older execution are dropped.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging

from ..core.entities import is_entity_instance
from ..core.history import SCHEDULING_EVENTS, EventType, HistoryEvent
from ..core.messages import TaskMessage
from ..core.state import OrchestrationRuntimeState
from .instance_store import InstanceStore
from .queues import ReceivedMessage
from .sessions import OrchestrationSession
from .settings import AzureStorageSettings

log = logging.getLogger("durable_ext.messages")


class Verdict(enum.Enum):
    APPLY = "apply"
    WAIT = "wait"
    DROP = "drop"


_RESPONSES = {
    EventType.TaskCompleted: "TaskScheduledId",
    EventType.TaskFailed: "TaskScheduledId",
    EventType.SubOrchestrationInstanceCompleted: "TaskScheduledId",
    EventType.SubOrchestrationInstanceFailed: "TaskScheduledId",
    EventType.TimerFired: "TimerId",
}


class MessageFilter:
    def __init__(self, instances: InstanceStore, settings: AzureStorageSettings) -> None:
        self.instances = instances
        self.settings = settings

    async def runnable(self, session: OrchestrationSession) -> bool:
        """Keep in ``session.messages`` only what this episode applies; True if anything is left."""
        state = OrchestrationRuntimeState(past_events=session.history.events)
        starts = [m for m in session.messages if m.message.event_type == EventType.ExecutionStarted]
        others = [m for m in session.messages if m.message.event_type != EventType.ExecutionStarted]
        keep: list[ReceivedMessage] = []
        new_execution_id: str | None = None
        for received in starts:
            verdict = await self._judge_start(received, state) if new_execution_id is None else Verdict.DROP
            if verdict == Verdict.APPLY:
                new_execution_id = received.message.execution_id
                session.new_execution = bool(session.history.events)
            keep += await self._act(received, verdict)
        scheduled = {e.event_id for e in state.past_events if e.event_type in SCHEDULING_EVENTS}
        scheduled_requests = _entity_request_ids(state)
        for received in others:
            if new_execution_id is not None:
                verdict = _judge_for_new_execution(received, new_execution_id)
            else:
                verdict = self._judge(received, state, scheduled, scheduled_requests)
            keep += await self._act(received, verdict)
        if new_execution_id is None and state.execution_started is not None and state.status.is_terminal:
            await self._repair_status(state)
        session.messages = keep
        return bool(keep)

    async def _repair_status(self, state: OrchestrationRuntimeState) -> None:
        """A worker that died between committing history and updating the Instances row left the row
        behind (still ``Running``): the history says how the execution ended, so the row follows it."""
        row = await self.instances.get_row(state.instance_id or "")
        if row is not None and row.get("ExecutionId") not in (None, state.execution_id):
            return  # a newer execution owns the row
        if row is not None and row.get("RuntimeStatus") == state.status.name:
            return
        log.warning("Repairing the status of '%s': its history says %s", state.instance_id, state.status.name)
        replay = OrchestrationRuntimeState(new_events=state.events)
        await self.instances.update_from_episode(replay, None, keep_custom_status=True)

    async def _act(self, received: ReceivedMessage, verdict: Verdict) -> list[ReceivedMessage]:
        if verdict == Verdict.APPLY:
            return [received]
        if verdict == Verdict.DROP:
            asyncio.get_running_loop().create_task(received.queue.delete(received.queue_message))
        else:
            await received.queue.abandon(received.queue_message)
        return []

    async def _judge_start(self, received: ReceivedMessage, state: OrchestrationRuntimeState) -> Verdict:
        message = received.message
        if message.event.get("ParentInstance") is None and not received.status_row_known:
            row = await self.instances.get_row(message.instance_id)
            if row is None:
                if received.dequeue_count >= self.settings.execution_started_dedupe_max_dequeues:
                    log.warning(
                        "Dropping the start of '%s': its status row never appeared", message.instance_id
                    )
                    return Verdict.DROP
                return Verdict.WAIT
            if row.get("ExecutionId") not in (None, message.execution_id):
                log.info("Dropping a superseded start of instance '%s'", message.instance_id)
                return Verdict.DROP
            if row.get("RuntimeStatus") == "Terminated" and state.execution_id != message.execution_id:
                log.info("Dropping the start of '%s': it was terminated before it ran", message.instance_id)
                return Verdict.DROP
        if state.execution_started is None or state.status.is_terminal:
            return Verdict.APPLY
        if state.execution_id == message.execution_id:
            log.info("Dropping a duplicate start of instance '%s'", message.instance_id)
        else:
            log.warning(
                "Dropping a start of instance '%s': it is already %s", message.instance_id, state.status.name
            )
        return Verdict.DROP

    def _judge(
        self,
        received: ReceivedMessage,
        state: OrchestrationRuntimeState,
        scheduled: set[int],
        scheduled_requests: set[str],
    ) -> Verdict:
        message = received.message
        stale_limit = self.settings.stale_message_max_dequeues
        if state.execution_started is None and is_entity_instance(message.instance_id):
            return Verdict.APPLY  # an entity starts with its first message
        if state.execution_started is None:
            if received.dequeue_count > stale_limit:
                log.warning("Dropping %s: no such instance", message.describe())
                return Verdict.DROP
            return Verdict.WAIT
        if message.execution_id not in (None, state.execution_id):
            log.info("Dropping %s: it belongs to an older execution", message.describe())
            return Verdict.DROP
        if state.status.is_terminal:
            log.info("Dropping %s: the instance is %s", message.describe(), state.status.name)
            return Verdict.DROP
        if _is_out_of_order(message.event, scheduled) or _is_early_entity_response(
            message, scheduled_requests
        ):
            if received.dequeue_count > stale_limit:
                log.warning("Dropping %s: its task was never scheduled", message.describe())
                return Verdict.DROP
            return Verdict.WAIT
        return Verdict.APPLY


def _judge_for_new_execution(received: ReceivedMessage, execution_id: str | None) -> Verdict:
    message = received.message
    if message.execution_id not in (None, execution_id):
        return Verdict.DROP
    if message.event_type in _RESPONSES:  # a new execution has scheduled nothing yet
        log.info("Dropping %s: it answers nothing the new execution scheduled", message.describe())
        return Verdict.DROP
    return Verdict.APPLY


def _entity_request_ids(state: OrchestrationRuntimeState) -> set[str]:
    """Ids of the requests this execution's history records sending to entities."""
    ids: set[str] = set()
    for e in state.past_events:
        if e.event_type == EventType.EventSent and is_entity_instance(e.get("InstanceId")):
            try:
                ids.add(str(json.loads(e.input or "{}").get("id")).lower())
            except (ValueError, AttributeError):
                continue
    return ids


def _is_early_entity_response(message: TaskMessage, scheduled_requests: set[str]) -> bool:
    """A response from an entity to a request the loaded history does not show yet."""
    return (
        message.event_type == EventType.EventRaised
        and is_entity_instance(message.sender_instance_id)
        and not is_entity_instance(message.instance_id)
        and (message.event.name or "").lower() not in scheduled_requests
    )


def _is_out_of_order(event: HistoryEvent, scheduled: set[int]) -> bool:
    prop = _RESPONSES.get(event.event_type)
    return prop is not None and int(event.get(prop, -1)) not in scheduled
