"""Orchestration sessions: messages buffered per instance, history prefetched, one episode at a time.

Dequeue loops (and this process's own sends, see ``TaskHubQueue.send_held``) add messages here. An
instance with buffered messages and no running episode gets its history (from the cache, else loaded in
the background) and is then handed out as a session. Messages that arrive while an episode runs wait
for the next one, so one worker never runs two episodes of one instance at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from .history_cache import HistoryCache
from .history_store import HistoryStore, LoadedHistory
from .queues import ReceivedMessage

log = logging.getLogger("durable_ext.sessions")

PREFETCH_RETRY_DELAY_S = 2.0


@dataclass
class OrchestrationSession:
    instance_id: str
    history: LoadedHistory
    messages: list[ReceivedMessage] = field(default_factory=list)
    new_execution: bool = False
    """True when this episode starts a new execution over the history of a finished one."""
    redelivered: list[ReceivedMessage] = field(default_factory=list)
    """Messages the history's last commits consumed that came back (dropped, to be deleted again)."""
    from_cache: bool = False
    """The history is this worker's cached guess, not a read: fine to commit against (the sentinel ETag
    checks it), never enough to throw a message away."""


class SessionManager:
    def __init__(self, history: HistoryStore, cache: HistoryCache | None = None) -> None:
        self.history = history
        self.cache = cache if cache is not None else HistoryCache()
        self._pending: dict[str, list[ReceivedMessage]] = {}
        self._busy: set[str] = set()
        self._ready: asyncio.Queue[OrchestrationSession | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def busy_instances(self) -> frozenset[str]:
        """Instances whose history is loading, whose session waits to run, or whose episode runs."""
        return frozenset(self._busy)

    @property
    def buffered_count(self) -> int:
        return sum(len(messages) for messages in self._pending.values())

    def add(self, received: list[ReceivedMessage]) -> None:
        for item in received:
            instance_id = item.message.instance_id
            buffered = self._pending.setdefault(instance_id, [])
            # a message seen again (its visibility ran out while it waited) replaces the old copy
            buffered[:] = [m for m in buffered if m.id != item.id]
            buffered.append(item)
            if instance_id not in self._busy:
                self._schedule(instance_id)

    def _schedule(self, instance_id: str) -> None:
        self._busy.add(instance_id)
        task = asyncio.create_task(self._prefetch(instance_id), name=f"prefetch-{instance_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _prefetch(self, instance_id: str) -> None:
        cached = self.cache.take(instance_id)
        history = cached if cached is not None else await self._load(instance_id)
        messages = self._pending.pop(instance_id, [])
        if not messages:
            self._busy.discard(instance_id)
            return
        messages.sort(key=lambda m: (m.inserted_on, m.sequence_number))
        await self._ready.put(
            OrchestrationSession(instance_id, history, messages, from_cache=cached is not None)
        )

    async def reload(self, session: OrchestrationSession) -> None:
        """Replace a session's cached history with a fresh read of the table."""
        session.history = await self._load(session.instance_id)
        session.from_cache = False

    async def _load(self, instance_id: str) -> LoadedHistory:
        while True:
            try:
                return await self.history.load(instance_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Loading the history of '%s' failed, retrying: %s", instance_id, exc)
                await asyncio.sleep(PREFETCH_RETRY_DELAY_S)

    async def next(self) -> OrchestrationSession | None:
        """The next session ready to run; ``None`` once :meth:`close` was called."""
        return await self._ready.get()

    def release(self, session: OrchestrationSession) -> None:
        """The episode is over: messages that arrived meanwhile start the next one."""
        self._busy.discard(session.instance_id)
        if self._pending.get(session.instance_id):
            self._schedule(session.instance_id)

    def drop_queue_messages(self, queue_name: str) -> list[ReceivedMessage]:
        """Forget buffered messages of a control queue this worker no longer owns."""
        dropped: list[ReceivedMessage] = []
        for instance_id, messages in list(self._pending.items()):
            keep = [m for m in messages if m.queue.name != queue_name]
            dropped += [m for m in messages if m.queue.name == queue_name]
            if keep:
                self._pending[instance_id] = keep
            else:
                del self._pending[instance_id]
        return dropped

    async def close(self) -> list[ReceivedMessage]:
        """Stop; return the messages still held (buffered, or in sessions that never ran)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        left = [m for messages in self._pending.values() for m in messages]
        self._pending.clear()
        self._busy.clear()
        while not self._ready.empty():
            session = self._ready.get_nowait()
            if session is not None:
                left += session.messages
        await self._ready.put(None)
        return left
