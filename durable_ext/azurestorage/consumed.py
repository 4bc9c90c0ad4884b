"""Which consumed messages a commit still has to remember, so that their redelivery is not applied.

An episode's messages are deleted after its commit. A worker that dies (or a delete that fails) in
between leaves them in the queue to reappear; the commit recorded their ids in the sentinel row
(``checkpoint.CONSUMED``), and the filter drops them when they come back. An id stays recorded, commit
after commit, until this worker has seen its delete succeed, or until it can no longer come back.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import UTC, datetime

from .checkpoint import may_return_until
from .queues import ReceivedMessage

MAX_CONFIRMED = 100_000
CONFIRMED_KEPT_S = 3600.0


class ConsumedMessages:
    def __init__(self, visibility_timeout_s: float) -> None:
        self.visibility_timeout_s = visibility_timeout_s
        self._confirmed: OrderedDict[str, float] = OrderedDict()
        """Ids of messages this worker deleted, with when (monotonic)."""

    async def delete(self, received: ReceivedMessage) -> None:
        """Delete a handled message and remember that it is gone."""
        if await received.queue.delete(received.queue_message):
            self._confirmed[received.id] = time.monotonic()
            self._forget_old()

    def record(
        self,
        previous: dict[str, datetime],
        consumed: list[ReceivedMessage],
        redelivered: list[ReceivedMessage],
    ) -> dict[str, datetime]:
        """What the commit of an episode that consumed ``consumed`` records: those, and what the
        previous commit recorded unless it is gone or can no longer return. ``redelivered`` are
        recorded messages that came back in this session: they may come back again until deleted."""
        now = datetime.now(UTC)
        again = {m.id: m for m in redelivered}
        record: dict[str, datetime] = {}
        for message_id, until in previous.items():
            if message_id in self._confirmed:
                continue
            if message_id in again:
                record[message_id] = self._until(again[message_id])
            elif until > now:
                record[message_id] = until
        for message in consumed:
            record[message.id] = self._until(message)
        return record

    def _until(self, message: ReceivedMessage) -> datetime:
        return may_return_until(message.queue_message.next_visible_on, self.visibility_timeout_s)

    def _forget_old(self) -> None:
        horizon = time.monotonic() - CONFIRMED_KEPT_S
        while self._confirmed and (
            len(self._confirmed) > MAX_CONFIRMED or next(iter(self._confirmed.values())) < horizon
        ):
            self._confirmed.popitem(last=False)
