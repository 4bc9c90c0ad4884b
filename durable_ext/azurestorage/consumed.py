"""Which consumed messages a commit still has to remember, so that their redelivery is not applied.

An episode's messages are deleted after its commit. A worker that dies (or a delete that fails) in
between leaves them in the queue, to reappear whenever a worker next reads it; the commit recorded
their ids in the sentinel row (``checkpoint.CONSUMED``), and the filter drops them when they come back.
An id stays recorded, commit after commit, until this worker has seen its delete succeed. Ids whose
delete only a worker that died since had seen would stay for ever: they are forgotten after
``KEPT_DAYS``, and beyond ``MAX_RECORDED`` ids per instance the oldest go first.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from .queues import ReceivedMessage

log = logging.getLogger("durable_ext.messages")

MAX_TRACKED_INSTANCES = 100_000
KEPT_DAYS = 7
MAX_RECORDED = 5_000


class ConsumedMessages:
    def __init__(self) -> None:
        self._confirmed: OrderedDict[str, set[str]] = OrderedDict()
        """Per instance: ids of its messages this worker deleted since the instance's last commit."""

    async def delete(self, received: ReceivedMessage) -> None:
        """Delete a handled message and remember that it is gone."""
        if await received.queue.delete(received.queue_message):
            self.confirm(received.message.instance_id, received.id)

    def confirm(self, instance_id: str, message_id: str) -> None:
        """The message is gone from its queue: the instance's next commit need not record it."""
        self._confirmed.setdefault(instance_id, set()).add(message_id)
        self._confirmed.move_to_end(instance_id)
        while len(self._confirmed) > MAX_TRACKED_INSTANCES:
            self._confirmed.popitem(last=False)

    def record(
        self,
        instance_id: str,
        previous: dict[str, datetime],
        consumed: list[ReceivedMessage],
        redelivered: list[ReceivedMessage],
    ) -> dict[str, datetime]:
        """What the commit of an episode that consumed ``consumed`` records, with when: those, and
        what the previous commit recorded unless this worker saw it deleted. ``redelivered`` are
        recorded messages that came back in this session: they may come back again until deleted."""
        now = datetime.now(UTC)
        horizon = now - timedelta(days=KEPT_DAYS)
        again = {m.id for m in redelivered}
        deleted = self._confirmed.pop(instance_id, set())
        record = {
            message_id: now if message_id in again else at
            for message_id, at in previous.items()
            if message_id not in deleted and (at > horizon or message_id in again)
        }
        record |= {m.id: now for m in consumed}
        if len(record) > MAX_RECORDED:
            log.warning(
                "Forgetting %d consumed message ids past %d", len(record) - MAX_RECORDED, MAX_RECORDED
            )
            record = dict(sorted(record.items(), key=lambda item: item[1])[-MAX_RECORDED:])
        return record
