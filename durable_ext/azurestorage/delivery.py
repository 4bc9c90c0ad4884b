"""Sending task messages, and keeping at once the ones this worker is going to handle itself.

A message for a control queue this worker listens to, or an activity while this worker has a free
activity slot, is put in the queue already invisible (``TaskHubQueue.send_held``) and handed straight
to the session manager or the activity reader. It is as durable as any other message: if this process
dies, it reappears when its visibility timeout ends. Everything else is sent as usual.
"""

from __future__ import annotations

import asyncio

from ..core.messages import TaskMessage
from ..core.service import EpisodeResult
from .activities import ActivityQueueReader
from .control_queues import ControlQueueListener
from .history_store import LoadedHistory
from .queues import ReceivedMessage, TaskHubQueue
from .routing import partition_for
from .sessions import SessionManager


class MessageDelivery:
    def __init__(
        self,
        control_queues: list[TaskHubQueue],
        work_item_queue: TaskHubQueue,
        listener: ControlQueueListener,
        sessions: SessionManager,
        activities: ActivityQueueReader,
    ) -> None:
        self.control_queues = control_queues
        self.work_item_queue = work_item_queue
        self.listener = listener
        self.sessions = sessions
        self.activities = activities
        self.held_locally = 0
        """Messages handed over in this process without a Get Messages (for the benchmarks)."""

    def control_queue_for(self, instance_id: str) -> TaskHubQueue:
        return self.control_queues[partition_for(instance_id, len(self.control_queues))]

    def owns(self, queue: TaskHubQueue) -> bool:
        return self.listener.listens_to(queue.name)

    async def send_all(self, result: EpisodeResult) -> None:
        sends = [self.dispatch_activity(m) for m in result.activity_messages]
        sends += [self.deliver(m) for m in result.orchestrator_messages]
        await asyncio.gather(*sends)

    async def deliver(self, message: TaskMessage, *, once: bool = False) -> None:
        """Send ``message`` to its instance's control queue, keeping it if this worker owns the queue.
        ``once``: a client's message, never put twice (``TaskHubQueue._put``)."""
        queue = self.control_queue_for(message.instance_id)
        if message.visible_at is None and self.owns(queue):
            await self.hand_over(await queue.send_held(message, once=once))
            return
        await queue.send(message, once=once)  # a timer wakes the queue's poller when it is due

    async def dispatch_activity(self, message: TaskMessage) -> None:
        if self.activities.has_room():
            held = await self.work_item_queue.send_held(message)
            self.held_locally += 1
            self.activities.offer(held)
        else:
            await self.work_item_queue.send(message)

    async def hand_over(self, held: ReceivedMessage, *, new_instance: bool = False) -> None:
        """Give a held control-queue message to this worker's sessions, or, when this worker does not
        own its queue (any more), make it visible for the worker that does.

        ``new_instance``: the message starts an instance that had no Instances row, so its history is
        known to be empty (a guess the sentinel ETag checks like any cached history).
        """
        if not self.owns(held.queue):
            await held.queue.release(held.queue_message)
            return
        if new_instance:
            self.sessions.cache.put(held.message.instance_id, LoadedHistory([], None, None))
        self.held_locally += 1
        self.sessions.add([held])
