"""Which of a session's messages an episode may apply now, which wait, and which are dropped.

Rules follow the reference provider: a top-level start is accepted only once the client's Instances row
names its execution (the client writes the row after the message); responses that reference a task the
loaded history has not recorded yet wait; messages for a finished or older execution are dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging

from ..core.entities import SchedulerState, is_entity_instance
from ..core.entity_scheduler import entity_status
from ..core.history import SCHEDULING_EVENTS, EventType, HistoryEvent
from ..core.message_rules import (
    APPLY,
    RESPONSES,
    WAIT,
    WARNING,
    Judgement,
    Verdict,
    drop,
    judge_current,
    judge_for_new_execution,
    judge_start,
    judge_start_against_status,
)
from ..core.messages import TaskMessage
from ..core.state import OrchestrationRuntimeState
from .consumed import ConsumedMessages
from .instance_store import InstanceStore
from .queues import ReceivedMessage
from .sessions import OrchestrationSession
from .settings import AzureStorageSettings

log = logging.getLogger("durable_ext.messages")


class MessageFilter:
    def __init__(
        self, instances: InstanceStore, settings: AzureStorageSettings, consumed: ConsumedMessages
    ) -> None:
        self.instances = instances
        self.settings = settings
        self.consumed = consumed

    async def runnable(self, session: OrchestrationSession) -> bool | None:
        """Keep in ``session.messages`` only what this episode applies; True if anything is left.

        ``None`` when the session's history is a cached guess and some message would be dropped for
        what it says: nothing was done, and the caller judges again on a fresh read.
        """
        plan = await self._judge_all(session)
        if session.from_cache and any(j.verdict == Verdict.DROP for _, j in plan):
            return None
        keep: list[ReceivedMessage] = []
        for received, judgement in plan:
            keep += await self._act(received, judgement)
        state = OrchestrationRuntimeState(past_events=session.history.events)
        starts_anew = any(m.message.event_type == EventType.ExecutionStarted for m in keep)
        if session.redelivered and state.execution_started is not None:
            await self._repair_status(state, always=True)  # the last commit may have ended early
        elif not starts_anew and state.execution_started is not None and state.status.is_terminal:
            await self._repair_status(state)
        session.messages = keep
        return bool(keep)

    async def _judge_all(self, session: OrchestrationSession) -> list[tuple[ReceivedMessage, Judgement]]:
        """What to do with each message of the session (and whether it starts a new execution)."""
        state = OrchestrationRuntimeState(past_events=session.history.events)
        starts = [m for m in session.messages if m.message.event_type == EventType.ExecutionStarted]
        others = [m for m in session.messages if m.message.event_type != EventType.ExecutionStarted]
        plan: list[tuple[ReceivedMessage, Judgement]] = []
        new_execution_id: str | None = None
        session.new_execution = False
        session.redelivered = [m for m in session.messages if m.id in session.history.consumed]
        for received in session.redelivered:
            why = f"Dropping {received.message.describe()}: it came back after its episode was committed"
            plan.append((received, drop(why)))
        starts = [m for m in starts if m.id not in session.history.consumed]
        others = [m for m in others if m.id not in session.history.consumed]
        for received in starts:
            if new_execution_id is None:
                judgement = await self._judge_start(received, state)
            else:
                judgement = drop(f"Dropping a second start of instance '{received.message.instance_id}'")
            if judgement.verdict == Verdict.APPLY:
                new_execution_id = received.message.execution_id
                session.new_execution = bool(session.history.events)
            plan.append((received, judgement))
        scheduled = {e.event_id for e in state.past_events if e.event_type in SCHEDULING_EVENTS}
        scheduled_requests = _entity_request_ids(state)
        for received in others:
            if new_execution_id is not None:
                judgement = judge_for_new_execution(received.message, new_execution_id)
            else:
                judgement = self._judge(received, state, scheduled, scheduled_requests)
            plan.append((received, judgement))
        return plan

    async def _repair_status(self, state: OrchestrationRuntimeState, *, always: bool = False) -> None:
        """A worker that died between committing history and updating the Instances row left the row
        behind (still ``Running``, or an entity's old state): the row follows the history.

        ``always``: the session's messages show the last commit was not followed through, so the row
        is rewritten even if its status looks right.
        """
        row = await self.instances.get_row(state.instance_id or "")
        if row is not None and row.get("ExecutionId") not in (None, state.execution_id):
            started = state.execution_started
            generation = int((started.get("Generation") if started else None) or 0)
            if not always or int(row.get("Generation") or 0) >= generation:
                return  # a newer execution owns the row (not one this history continued from)
        if row is not None and row.get("RuntimeStatus") == state.status.name and not always:
            return
        log.warning("Repairing the status of '%s': its history says %s", state.instance_id, state.status.name)
        replay = OrchestrationRuntimeState(new_events=state.events)
        custom = None
        if is_entity_instance(state.instance_id):
            custom = entity_status(SchedulerState.from_json(state.input))
        await self.instances.update_from_episode(replay, custom, keep_custom_status=custom is None)

    async def _act(self, received: ReceivedMessage, judgement: Judgement) -> list[ReceivedMessage]:
        if judgement.verdict == Verdict.APPLY:
            return [received]
        if judgement.verdict == Verdict.DROP:
            if judgement.why:
                log.log(judgement.level, judgement.why)
            asyncio.get_running_loop().create_task(self.consumed.delete(received))
        else:
            await received.queue.abandon(received.queue_message)
        return []

    async def _judge_start(self, received: ReceivedMessage, state: OrchestrationRuntimeState) -> Judgement:
        message = received.message
        instance = message.instance_id
        if message.event.get("ParentInstance") is None and not received.status_row_known:
            row = await self.instances.get_row(instance)
            if row is None:
                if received.dequeue_count >= self.settings.execution_started_dedupe_max_dequeues:
                    return drop(f"Dropping the start of '{instance}': its status row never appeared", WARNING)
                return WAIT
            superseded = judge_start_against_status(
                message, row.get("ExecutionId"), row.get("RuntimeStatus"), state
            )
            if superseded is not None:
                return superseded
        return judge_start(message, state)

    def _judge(
        self,
        received: ReceivedMessage,
        state: OrchestrationRuntimeState,
        scheduled: set[int],
        scheduled_requests: set[str],
    ) -> Judgement:
        message = received.message
        stale_limit = self.settings.stale_message_max_dequeues
        if state.execution_started is None and is_entity_instance(message.instance_id):
            return APPLY  # an entity starts with its first message
        if state.execution_started is None:
            if received.dequeue_count > stale_limit:
                return drop(f"Dropping {message.describe()}: no such instance", WARNING)
            return WAIT
        current = judge_current(message, state)
        if current.verdict != Verdict.APPLY:
            return current
        if _is_out_of_order(message.event, scheduled) or _is_early_entity_response(
            message, scheduled_requests
        ):
            if received.dequeue_count > stale_limit:
                return drop(f"Dropping {message.describe()}: its task was never scheduled", WARNING)
            return WAIT
        return APPLY


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
    prop = RESPONSES.get(event.event_type)
    return prop is not None and int(event.get(prop, -1)) not in scheduled
