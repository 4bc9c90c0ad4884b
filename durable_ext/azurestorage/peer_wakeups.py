"""Telling other workers at once about messages sent to the queues they poll.

A worker polls only the control queues it owns and the shared work-item queue, backing off while they
are empty. A message another worker sends would wait for that back-off. So every worker listens for
signed UDP datagrams (``wake_signals``) at an address it publishes in the partition leases it takes;
a worker that sends to a control queue it does not own signals that queue's owner, and one that leaves
an activity for others signals one other worker. The receiver reads the queue at once, or arms a
wake-up for when a delayed message (a timer, a scheduled start) becomes visible.

It is only ever a shortcut: a signal that is lost, late or refused leaves the message where it is, and
the receiver's next poll finds it, as it would have without signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from urllib.parse import urlparse

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from .clients import translated
from .lease_blobs import LeaseBlobs, LeaseSnapshot, PartitionLease
from .wake_signals import SignalRefused, WakeSigner

log = logging.getLogger("durable_ext.wakeups")

SECRET_BLOB = "wakeup.key"
SECRET_BYTES = 32
CLIENT_REFRESH_S = 30.0
LEASES_SIGNAL = ":leases"
"""The signal's queue name that means "one of your leases was taken" (no queue is named so)."""
"""How long a process that only sends (a client, the CLI) trusts what it last read of the leases."""


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(address: str, what: str = "wakeAddress") -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` (``port`` may be 0: any free one)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise ValueError(f"{what} '{address}' is not host:port (for example 10.0.0.4:7071, or 10.0.0.4:0)")
    return host.strip("[]"), int(port)


def outbound_host(endpoint_url: str) -> str:
    """The local address this machine uses to reach ``endpoint_url``: where workers that share the
    storage endpoint most likely reach this one (no packet is sent to find it)."""
    host = urlparse(endpoint_url).hostname or "127.0.0.1"
    try:
        family, _, _, _, target = socket.getaddrinfo(host, 443, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(target)
            return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, received: Callable[[bytes, tuple[str, int]], None]) -> None:
        self.received = received

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received(data, addr)

    def error_received(self, exc: Exception) -> None:  # a peer that went away: nothing to do
        log.debug("wake-up datagram error: %s", exc)


class PeerWakeups:
    """Sends and receives wake-up signals for one task hub's queues."""

    def __init__(
        self,
        hub: str,
        leases: LeaseBlobs,
        wake: Callable[[str, float], bool],
        work_item_queue: str,
        listen_address: str | None,
        endpoint_url: str,
    ) -> None:
        self.hub = hub
        self.leases = leases
        self.wake = wake
        """Wakes this worker's poller of a queue in some seconds; False for a queue it does not know."""
        self.work_item_queue = work_item_queue
        self.listen_address = listen_address
        self.endpoint_url = endpoint_url
        self.address: str | None = None
        """Where this worker takes signals, once started."""
        self.signer: WakeSigner | None = None
        self.on_leases: Callable[[], None] | None = None
        """Told when another worker took a lease from this one (so it looks at the leases now)."""
        self._transport: asyncio.DatagramTransport | None = None
        self._owners: dict[str, set[str]] = {}
        self._peers: list[str] = []
        self._next_peer = 0
        self._listening = False
        self._client_checked = -CLIENT_REFRESH_S
        self._client_lock = asyncio.Lock()
        self.sent = 0
        self.received = 0
        self.refused = 0

    async def start(self) -> None:
        """Listen for signals (a worker); the address goes into the leases this worker takes."""
        secret = await self._secret(create=True)
        if secret is None:  # the hub was deleted under this worker
            raise RuntimeError(
                f"The wake-up key '{SECRET_BLOB}' was written and is gone: the task hub was deleted "
                "while this worker started. Restart the worker to create the hub again."
            )
        self.signer = WakeSigner(secret, self.hub)
        host, port = self._bind_address()
        self.close()
        await self._open(host, port)
        assert self._transport is not None
        self._listening = True
        self.address = format_address(host, int(self._transport.get_extra_info("sockname")[1]))
        self.leases.address = self.address
        log.info("Taking wake-up signals from other workers at %s (udp)", self.address)

    async def _open(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self._received), local_addr=(host, port)
        )
        self._transport = transport

    def _bind_address(self) -> tuple[str, int]:
        if self.listen_address:
            return parse_address(self.listen_address)
        return outbound_host(self.endpoint_url), 0

    async def _secret(self, *, create: bool) -> bytes | None:
        """The hub's signing key: made by the first worker, read by every other process."""
        blob = self.leases.container.get_blob_client(SECRET_BLOB)
        async with translated(f"Reading the wake-up key '{SECRET_BLOB}'"):
            if create:
                with contextlib.suppress(ResourceExistsError):
                    await blob.upload_blob(os.urandom(SECRET_BYTES).hex(), overwrite=False)
            try:
                downloader = await blob.download_blob()
            except ResourceNotFoundError:
                return None  # no worker has started on this hub: nobody to signal
            return bytes.fromhex((await downloader.readall()).decode())

    async def _ready_to_send(self) -> bool:
        """A worker is ready once started; a process that only sends reads the key and the leases
        when it first sends, and again at most every ``CLIENT_REFRESH_S``."""
        if self._listening:
            return True
        loop = asyncio.get_running_loop()
        if loop.time() - self._client_checked < CLIENT_REFRESH_S:
            return self._transport is not None
        async with self._client_lock:
            if loop.time() - self._client_checked < CLIENT_REFRESH_S:
                return self._transport is not None
            self._client_checked = loop.time()
            try:
                secret = await self._secret(create=False)
                if secret is None:
                    return False
                self.signer = WakeSigner(secret, self.hub)
                self.observe_leases(await self.leases.list_all())
                if self._transport is None:
                    await self._open(outbound_host(self.endpoint_url), 0)
            except Exception as exc:
                log.debug("Not signalling workers of '%s': %s", self.hub, exc)
                return False
        return True

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._listening = False

    # ---- who polls what --------------------------------------------------------------------------
    def observe(self, snapshot: LeaseSnapshot) -> None:
        """Learn from a listing of the leases who polls each control queue, and where they listen."""
        self.observe_leases([*snapshot.intent.values(), *snapshot.ownership.values()])

    def observe_leases(self, leases: list[PartitionLease]) -> None:
        owners: dict[str, set[str]] = {}
        for lease in leases:
            if lease.held and lease.address and lease.address != self.address:
                owners.setdefault(lease.partition, set()).add(lease.address)
        self._owners = owners
        self._peers = sorted({address for found in owners.values() for address in found})

    # ---- sending ----------------------------------------------------------------------------------
    async def announce(self, queue: str, delay_s: float) -> None:
        """A message in ``queue`` is visible in ``delay_s``: signal the worker that polls it (for the
        work-item queue, one other worker in turn)."""
        if not await self._ready_to_send() or self.signer is None:
            return
        if queue == self.work_item_queue:
            if not self._peers:
                return
            targets = [self._peers[self._next_peer % len(self._peers)]]
            self._next_peer += 1
        else:
            targets = sorted(self._owners.get(queue, ()))
        now_ms = time.time_ns() // 1_000_000
        due_ms = now_ms + int(delay_s * 1000) if delay_s > 0 else 0
        for target in targets:
            self._send(self.signer.sign(queue, due_ms, now_ms), target)

    def tell_leases(self, target: str) -> None:
        """Tell the worker at ``target`` that one of its leases was taken (it hands the queue over)."""
        if self.signer is not None and self._listening:
            now_ms = time.time_ns() // 1_000_000
            self._send(self.signer.sign(LEASES_SIGNAL, 0, now_ms), target)

    def _send(self, datagram: bytes, target: str) -> None:
        if self._transport is None:
            return
        try:
            self._transport.sendto(datagram, parse_address(target))
            self.sent += 1
        except (OSError, ValueError) as exc:
            log.debug("Signalling %s failed: %s", target, exc)

    # ---- receiving --------------------------------------------------------------------------------
    def _received(self, data: bytes, sender: tuple[str, int]) -> None:
        if self.signer is None or not self._listening:
            return
        now_ms = time.time_ns() // 1_000_000
        try:
            signal = self.signer.verify(data, now_ms)
        except SignalRefused as exc:
            self.refused += 1
            log.debug("Ignored a datagram from %s: %s", sender[0], exc)
            return
        if signal.queue == LEASES_SIGNAL:
            if self.on_leases is not None:
                self.received += 1
                self.on_leases()
            return
        if self.wake(signal.queue, max(0.0, (signal.due_ms - now_ms) / 1000) if signal.due_ms else 0.0):
            self.received += 1

    def metrics(self) -> dict[str, object]:
        return {
            "address": self.address,
            "signalsSent": self.sent,
            "signalsReceived": self.received,
            "signalsRefused": self.refused,
        }
