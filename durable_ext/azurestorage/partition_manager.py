"""Sharing the control queues among workers with two leases per queue (the reference's safe manager).

*Intent* leases decide which worker should own each control queue. Workers take free ones and steal
one at a time from the busiest worker until every worker has its fair share (``ceil(queues /
workers)``). *Ownership* leases decide which worker may dequeue: a worker takes one only for a queue
whose intent lease it holds, and never steals one from a live worker. A worker that loses an intent
lease stops dequeuing that queue, puts back the messages it buffered, keeps ownership until its running
episodes for that queue are committed, and then releases ownership; only then can the new owner start.
So two workers never run episodes of one instance at once, and a hand-off waits for nothing but the
work in flight.

Unlike the reference, partition leases are held for good and never renewed. Each worker renews one
lease of its own instead (:mod:`.worker_lease`), and one listing of the lease container, every
``acquire_interval_s``, shows every partition lease with its owner and whether each owner is alive.
A dead worker's leases are taken over (stolen: its lease ids are in the blobs); a worker that could not
renew its own lease in time stops dequeuing first, and gives its old leases back once it can. An idle
worker makes about three storage requests a minute for all this, where the reference renews two
leases per partition every ten seconds.
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
from .worker_lease import FENCE_MARGIN_FRACTION, WorkerLease

log = logging.getLogger("durable_ext.partitions")

HAND_OVER_INTERVAL_S = 0.5
"""How often to look again while a queue changes hands, so it is idle no longer than needed."""
RENEW_RETRY_S = 2.0
"""How soon to try again when renewing the worker lease failed."""


@dataclass(frozen=True)
class LeaseOptions:
    worker_lease_s: int = 60
    """How long a worker's own lease lasts (``leaseInterval``, 15 to 60 s): a dead worker's queues are
    taken over this long after its last renewal, plus up to one ``acquire_interval_s``."""
    renew_interval_s: float = 20.0
    """How often a worker renews its own lease (``leaseRenewInterval``)."""
    acquire_interval_s: float = 30.0
    """How often a worker lists the leases to balance, notice lost queues and find dead workers
    (``leaseAcquireInterval``); sooner when another worker signals that it took a queue."""
    drain_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not 15 <= self.worker_lease_s <= 60:
            raise ValueError(f"a worker lease lasts 15 to 60 s, not {self.worker_lease_s}")
        if self.renew_interval_s >= self.worker_lease_s * (1 - FENCE_MARGIN_FRACTION):
            raise ValueError(
                f"renewing every {self.renew_interval_s:g} s, a {self.worker_lease_s} s worker lease "
                "would always look about to expire"
            )


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
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.leases = leases
        self.partitions = partitions
        self.hooks = hooks
        self.options = options
        self.on_snapshot = on_snapshot
        """Told every listing of the leases (who owns what, and where to signal them)."""
        self.notify = notify
        """Tells the worker listening at an address to look at the leases now (it lost one)."""
        self.worker_lease = WorkerLease(leases.container, leases.worker_id, options.worker_lease_s)
        self.intent: dict[str, PartitionLease] = {}
        self.owned: dict[str, PartitionLease] = {}
        self.listening: set[str] = set()
        self.last = LeaseSnapshot({}, {})
        """The latest listing."""
        self._task: asyncio.Task[None] | None = None
        self._draining = False
        self._renew_due = -math.inf
        self._list_due = -math.inf
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

    def wake(self) -> None:
        """List the leases now (another worker took one of this worker's queues)."""
        self._list_due = -math.inf
        self._wake.set()

    async def stop_receiving(self) -> None:
        """Stop dequeuing every queue (buffered messages go back); the leases are still held."""
        self._draining = True
        for partition in sorted(self.listening):
            await self._stop_listening(partition)

    async def stop(self) -> None:
        """Hand every queue off: once the running episodes are committed, release all leases."""
        await self.stop_receiving()
        await self._wait_until_idle(list(self.owned), self.options.drain_timeout_s)
        await self._cancel()
        for lease in [*self.owned.values(), *self.intent.values()]:
            with contextlib.suppress(Exception):
                await self.leases.release(lease)
        self.owned.clear()
        self.intent.clear()
        await self.worker_lease.end()
        self._tell_others()

    def _tell_others(self) -> None:
        """Tell the other workers to list the leases now: this worker's queues are free."""
        if self.notify is None:
            return
        leases = [*self.last.intent.values(), *self.last.ownership.values()]
        for address in sorted({lease.address for lease in leases if lease.address and lease.held}):
            if address != self.leases.address:
                self.notify(address)

    async def abandon(self) -> None:
        """Stop without releasing anything, as a crash would (for tests of takeover)."""
        await self._cancel()
        for partition in sorted(self.listening):
            await self._stop_listening(partition)
        self.owned.clear()
        self.intent.clear()

    async def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def handing_over(self) -> bool:
        """A queue is changing hands: this worker drains one it lost, or waits for one it won."""
        return set(self.intent) != set(self.owned)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Partition management pass of %s failed, retrying: %s", self.worker_id, exc)
                self._list_due = min(self._list_due, loop.time() + RENEW_RETRY_S)
            fenced = self.worker_lease.fenced(loop.time())
            due = self._renew_due if fenced else min(self._renew_due, self._list_due)
            interval = due - loop.time()
            if self.handing_over and not fenced:
                interval = min(interval, HAND_OVER_INTERVAL_S)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, interval))

    async def run_pass(self) -> None:
        """One round: renew this worker's lease, and (when due) list the leases to notice lost
        queues, balance intent and take over from dead workers; then follow intent with ownership."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now >= self._renew_due:
            renewed = await self.worker_lease.keep()
            self._renew_due = now + (self.options.renew_interval_s if renewed else RENEW_RETRY_S)
        if self.worker_lease.fenced(loop.time()):
            await self._fence()
            return
        if loop.time() >= self._list_due and not self._draining:
            self._list_due = loop.time() + self.options.acquire_interval_s
            snapshot = await self.leases.snapshot(self.partitions)
            self.last = snapshot
            if self.on_snapshot is not None:
                self.on_snapshot(snapshot)
            await self._reconcile(snapshot)
            await self._balance(snapshot)
            await self._forget_dead_workers(snapshot)
        for partition in sorted(self.listening - set(self.owned)):
            await self._stop_listening(partition)
        if not self._draining:
            await self._follow_intent()

    async def _fence(self) -> None:
        """This worker's lease may expire before it is renewed: stop dequeuing everything now, before
        another worker may take the queues over. The leases are given back once renewing works."""
        if self.listening or self.intent or self.owned:
            log.warning(
                "%s stops dequeuing all %d queues: it could not renew its worker lease in time",
                self.worker_id,
                len(self.listening),
            )
        for partition in sorted(self.listening):
            await self._stop_listening(partition)
        self.intent.clear()
        self.owned.clear()
        self._list_due = -math.inf

    async def _reconcile(self, snapshot: LeaseSnapshot) -> None:
        """Drop the leases another worker took; give back leases held in this worker's name that it
        does not know it holds (from before a fence, or from an earlier process with this id)."""
        for kind, mine, listed in (
            ("intent", self.intent, snapshot.intent),
            (OWNERSHIP, self.owned, snapshot.ownership),
        ):
            for partition, lease in listed.items():
                ours = lease.held_by(self.worker_id)
                known = mine.get(partition)
                if known is not None and not (ours and lease.token == known.token):
                    log.warning(
                        "%s lost the %s lease of %s",
                        self.worker_id,
                        kind,
                        partition,
                        extra=self._fields(partition),
                    )
                    del mine[partition]
                elif known is None and ours and lease.token and not self.hooks.is_busy(partition):
                    log.info("%s gives back its old %s lease of %s", self.worker_id, kind, partition)
                    await self.leases.release(lease)
                    listed[partition] = PartitionLease(kind, partition, None, None, lease.epoch, False)

    async def _balance(self, snapshot: LeaseSnapshot) -> None:
        intents = snapshot.intent
        held = {p: lease for p, lease in intents.items() if lease.held and not snapshot.dead(lease)}
        counts = Counter(lease.owner for lease in held.values())
        alive = {worker for worker, live in snapshot.workers.items() if live}
        workers = len(set(counts) | alive | {self.worker_id})
        target = max(1, math.ceil(len(self.partitions) / workers))
        needed = target - len(self.intent)
        if needed <= 0:
            return
        free = [p for p in self.partitions if p not in held]
        for partition in free[:needed]:
            lease = intents[partition]
            if lease.held:
                log.info(
                    "%s takes over %s from %s, whose worker lease expired",
                    self.worker_id,
                    partition,
                    lease.owner,
                    extra=self._fields(partition),
                )
            await self._take_intent(lease)
        if free:
            return
        busiest, count = max(
            ((owner, n) for owner, n in counts.items() if owner != self.worker_id),
            key=lambda item: item[1],
            default=(None, 0),
        )
        if busiest is not None and count > target - (1 if needed > 1 else 0):
            victim = next(lease for lease in held.values() if lease.owner == busiest)
            log.info(
                "%s takes the intent lease of %s from %s to balance",
                self.worker_id,
                victim.partition,
                busiest,
                extra=self._fields(victim.partition),
            )
            if await self._take_intent(victim) and victim.address and self.notify is not None:
                self.notify(victim.address)  # so it hands the queue over now, not at its next listing
            self._list_due = -math.inf  # look again soon: one more may be needed

    async def _take_intent(self, lease: PartitionLease) -> bool:
        try:
            self.intent[lease.partition] = await self.leases.acquire(lease, steal=lease.held)
        except LeaseLostError:
            return False
        return True

    async def _forget_dead_workers(self, snapshot: LeaseSnapshot) -> None:
        """Delete the blobs of dead workers that no longer hold any lease (they would pile up)."""
        holders = {
            lease.owner for lease in [*snapshot.intent.values(), *snapshot.ownership.values()] if lease.held
        }
        for worker, live in snapshot.workers.items():
            if not live and worker not in holders and worker != self.worker_id:
                await self.worker_lease.delete_dead(worker)

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
        if current.held and not await self._owner_dead(current):
            return  # its owner is still finishing; it releases when done
        try:
            lease = await self.leases.acquire(current, steal=current.held)
        except LeaseLostError:
            return
        self.owned[partition] = lease
        fields = self._fields(partition)
        log.info("%s owns %s (epoch %d)", self.worker_id, partition, lease.epoch, extra=fields)
        await self._listen(partition)

    async def _owner_dead(self, lease: PartitionLease) -> bool:
        """The lease's owner is dead by the last listing and still is now (read again: an ownership
        lease taken from a live worker would let two workers dequeue one queue)."""
        if lease.owner == self.worker_id or not self.last.dead(lease):
            return False
        return not await self.worker_lease.is_live(lease.owner or "")

    async def _listen(self, partition: str) -> None:
        self.listening.add(partition)
        await self.hooks.start_partition(partition)

    async def _hand_off(self, partition: str) -> None:
        if partition in self.listening:
            await self._stop_listening(partition)
        if self.hooks.is_busy(partition):
            return  # keep ownership until the running episodes are committed
        lease = self.owned.pop(partition)
        await self.leases.release(lease)
        log.info("%s handed off %s", self.worker_id, partition, extra=self._fields(partition))

    async def _stop_listening(self, partition: str) -> None:
        if partition in self.listening and partition not in self.owned:
            log.warning(
                "%s stops dequeuing %s: its ownership lease was lost",
                self.worker_id,
                partition,
                extra=self._fields(partition),
            )
        self.listening.discard(partition)
        await self.hooks.stop_partition(partition)

    async def _wait_until_idle(self, partitions: list[str], timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if not any(self.hooks.is_busy(p) for p in partitions):
                return
            await asyncio.sleep(0.05)
