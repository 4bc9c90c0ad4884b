"""Sharing the control queues among workers with two leases per queue (the reference's safe manager).

*Intent* leases decide which worker should own each control queue. Workers take free ones and steal
one at a time from the busiest worker until every worker has its fair share (``ceil(queues /
workers)``). *Ownership* leases decide which worker may dequeue: a worker takes one only for a queue
whose intent lease it holds, and never steals one. A worker that loses an intent lease stops
dequeuing that queue, puts back the messages it buffered, keeps renewing ownership until its running
episodes for that queue are committed, and then releases ownership; only then can the new owner start.
So two workers never run episodes of one instance at once, and a hand-off waits for nothing but the
work in flight. A worker that dies stops renewing: its leases expire and are taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .lease_blobs import OWNERSHIP, LeaseBlobs, LeaseLostError, LeaseSnapshot, PartitionLease

log = logging.getLogger("durable_ext.partitions")

HAND_OVER_INTERVAL_S = 0.5
"""How often to look again while a queue changes hands, so it is idle no longer than needed."""


@dataclass(frozen=True)
class LeaseOptions:
    intent_lease_s: int = 30
    ownership_lease_s: int = 15
    renew_interval_s: float = 10.0
    acquire_interval_s: float = 10.0
    ownership_acquire_interval_s: float = 5.0
    drain_timeout_s: float = 60.0


class PartitionHooks(Protocol):
    async def start_partition(self, partition: str) -> None:
        """Begin dequeuing the control queue."""
        ...

    async def stop_partition(self, partition: str) -> None:
        """Stop dequeuing it and put back what was buffered but not started."""
        ...

    def is_busy(self, partition: str) -> bool:
        """True while an episode of an instance in this queue is running or committing."""
        ...


class PartitionManager:
    def __init__(
        self,
        leases: LeaseBlobs,
        partitions: list[str],
        hooks: PartitionHooks,
        options: LeaseOptions,
        on_snapshot: Callable[[LeaseSnapshot], None] | None = None,
    ) -> None:
        self.leases = leases
        self.partitions = partitions
        self.hooks = hooks
        self.options = options
        self.on_snapshot = on_snapshot
        """Told every listing of the leases (who owns what, and where to signal them)."""
        self.intent: dict[str, PartitionLease] = {}
        self.owned: dict[str, PartitionLease] = {}
        self.listening: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._draining = False
        self._last_acquire = -math.inf
        self._last_renew = -math.inf
        self._wake = asyncio.Event()

    @property
    def worker_id(self) -> str:
        return self.leases.worker_id

    def _fields(self, partition: str) -> dict[str, str]:
        """The lease log lines' fields (printed by the JSON log format)."""
        return {"partition": partition, "worker": self.worker_id}

    def start(self) -> None:
        self._draining = False
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"partitions-{self.worker_id}")

    async def stop_receiving(self) -> None:
        """Stop dequeuing every queue (buffered messages go back); leases are still renewed."""
        self._draining = True
        for partition in sorted(self.listening):
            await self._stop_listening(partition)

    async def stop(self) -> None:
        """Hand every queue off: once the running episodes are committed, release all leases."""
        await self.stop_receiving()
        await self._wait_until_idle(list(self.owned), self.options.drain_timeout_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for lease in [*self.owned.values(), *self.intent.values()]:
            with contextlib.suppress(Exception):
                await self.leases.release(lease)
        self.owned.clear()
        self.intent.clear()

    async def abandon(self) -> None:
        """Stop without releasing anything, as a crash would (for tests of takeover)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for partition in sorted(self.listening):
            await self._stop_listening(partition)
        self.owned.clear()
        self.intent.clear()

    @property
    def handing_over(self) -> bool:
        """A queue is changing hands: this worker drains one it lost, or waits for one it won."""
        return set(self.intent) != set(self.owned)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Partition management pass of %s failed, retrying: %s", self.worker_id, exc)
            interval = min(self.options.ownership_acquire_interval_s, self.options.renew_interval_s)
            if self.handing_over:
                interval = min(interval, HAND_OVER_INTERVAL_S)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def run_pass(self) -> None:
        """One round: renew, balance intent, follow intent with ownership, hand off what was lost."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._last_renew >= self.options.renew_interval_s:
            await self._renew_all()
            self._last_renew = now
        for partition in sorted(self.listening - set(self.owned)):
            log.warning(
                "%s stops dequeuing %s: its ownership lease was lost",
                self.worker_id,
                partition,
                extra=self._fields(partition),
            )
            await self._stop_listening(partition)
        if self._draining:
            return
        snapshot = await self.leases.snapshot(self.partitions)
        if self.on_snapshot is not None:
            self.on_snapshot(snapshot)
        intents = snapshot.intent
        self._notice_lost(intents)
        if now - self._last_acquire >= self.options.acquire_interval_s:
            await self._balance(intents)
            self._last_acquire = now
        await self._follow_intent()

    def _notice_lost(self, intents: dict[str, PartitionLease]) -> None:
        for partition in list(self.intent):
            if not intents[partition].held_by(self.worker_id):
                fields = self._fields(partition)
                log.info("%s lost the intent lease of %s", self.worker_id, partition, extra=fields)
                del self.intent[partition]

    async def _renew_all(self) -> None:
        for table in (self.intent, self.owned):
            for partition, lease in list(table.items()):
                try:
                    await self.leases.renew(lease)
                except LeaseLostError:
                    log.warning(
                        "%s lost the %s lease of %s",
                        self.worker_id,
                        lease.kind,
                        partition,
                        extra=self._fields(partition),
                    )
                    del table[partition]

    async def _balance(self, intents: dict[str, PartitionLease]) -> None:
        held = {p: lease for p, lease in intents.items() if lease.held}
        counts = Counter(lease.owner for lease in held.values())
        workers = len(set(counts) | {self.worker_id})
        target = max(1, math.ceil(len(self.partitions) / workers))
        needed = target - len(self.intent)
        if needed <= 0:
            return
        free = [p for p in self.partitions if p not in held]
        for partition in free[:needed]:
            await self._take_intent(intents[partition], steal=False)
        if free:
            return
        busiest, count = max(
            ((owner, n) for owner, n in counts.items() if owner != self.worker_id),
            key=lambda item: item[1],
            default=(None, 0),
        )
        if busiest is not None and count > target - (1 if needed > 1 else 0):
            victim = next(p for p, lease in held.items() if lease.owner == busiest)
            log.info(
                "%s takes the intent lease of %s from %s to balance",
                self.worker_id,
                victim,
                busiest,
                extra=self._fields(victim),
            )
            await self._take_intent(intents[victim], steal=True)

    async def _take_intent(self, lease: PartitionLease, *, steal: bool) -> None:
        try:
            self.intent[lease.partition] = await self.leases.acquire(
                lease, self.options.intent_lease_s, steal=steal
            )
        except LeaseLostError:
            return

    async def _follow_intent(self) -> None:
        """Keep ``listening`` equal to the queues this worker both should own and does own."""
        for partition in self.partitions:
            wanted = partition in self.intent
            if wanted and partition not in self.owned:
                await self._take_ownership(partition)
            elif wanted and partition not in self.listening:
                await self._listen(partition)  # intent came back during a hand-off
            elif not wanted and partition in self.owned:
                await self._hand_off(partition)

    async def _take_ownership(self, partition: str) -> None:
        current = await self.leases.read(OWNERSHIP, partition)
        if current.held and current.owner == self.worker_id and current.token:
            lease = current  # ours already (a renewal answered badly but the lease stayed ours)
        elif current.held:
            return  # its owner is still finishing; it releases when done, or the lease expires
        else:
            try:
                lease = await self.leases.acquire(current, self.options.ownership_lease_s, steal=False)
            except LeaseLostError:
                return
        self.owned[partition] = lease
        fields = self._fields(partition)
        log.info("%s owns %s (epoch %d)", self.worker_id, partition, lease.epoch, extra=fields)
        await self._listen(partition)

    async def _listen(self, partition: str) -> None:
        self.listening.add(partition)
        await self.hooks.start_partition(partition)

    async def _hand_off(self, partition: str) -> None:
        if partition in self.listening:
            await self._stop_listening(partition)
        if self.hooks.is_busy(partition):
            return  # keep renewing ownership until the running episodes are committed
        lease = self.owned.pop(partition)
        await self.leases.release(lease)
        log.info("%s handed off %s", self.worker_id, partition, extra=self._fields(partition))

    async def _stop_listening(self, partition: str) -> None:
        self.listening.discard(partition)
        await self.hooks.stop_partition(partition)

    async def _wait_until_idle(self, partitions: list[str], timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if not any(self.hooks.is_busy(p) for p in partitions):
                return
            await asyncio.sleep(0.05)  # the manager's loop keeps renewing meanwhile
