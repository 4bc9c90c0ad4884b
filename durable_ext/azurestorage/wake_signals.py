"""The signed datagrams workers send each other: "look at this queue now" (or at a due time).

A signal is ``HMAC-SHA256(secret, payload) || payload``, the payload a small JSON object: the task hub,
the queue, when the message becomes visible (0: now), when the signal was sent and a random nonce. The
secret is shared through the task hub itself, so only a process that can read the hub can make a
receiver read its queues. A signal is only ever a hint: a forged, stale, replayed or lost one costs at
most one queue read, never a message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass

MAC_BYTES = 32
MAX_AGE_MS = 60_000
"""Signals sent longer ago than this (by the receiver's clock) are refused: clocks between workers must
agree to within a minute, or their signals are dropped and the queues are read at the next poll."""
MAX_SIGNAL_BYTES = 1024
MAX_REMEMBERED = 65_536


@dataclass(frozen=True)
class WakeSignal:
    queue: str
    due_ms: int
    """When the message becomes visible, in Unix milliseconds; 0 when it is visible now."""
    sent_ms: int
    nonce: str


class SignalRefused(ValueError):
    """The datagram is not a signal this receiver may act on; the message says why."""


class WakeSigner:
    def __init__(self, secret: bytes, hub: str) -> None:
        self._secret = secret
        self.hub = hub.lower()
        self._seen: dict[str, int] = {}

    def sign(self, queue: str, due_ms: int, now_ms: int) -> bytes:
        payload = json.dumps(
            {"hub": self.hub, "q": queue, "due": due_ms, "at": now_ms, "n": os.urandom(8).hex()},
            separators=(",", ":"),
        ).encode()
        return self._mac(payload) + payload

    def verify(self, datagram: bytes, now_ms: int) -> WakeSignal:
        """The signal in ``datagram``, or :class:`SignalRefused` (forged, for another hub, stale, seen)."""
        if len(datagram) > MAX_SIGNAL_BYTES or len(datagram) <= MAC_BYTES:
            raise SignalRefused(f"a datagram of {len(datagram)} bytes is not a wake-up signal")
        mac, payload = datagram[:MAC_BYTES], datagram[MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise SignalRefused("its signature does not match this task hub's key")
        try:
            fields = json.loads(payload)
            signal = WakeSignal(str(fields["q"]), int(fields["due"]), int(fields["at"]), str(fields["n"]))
            hub = str(fields["hub"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SignalRefused(f"its payload is malformed ({exc})") from None
        if hub != self.hub:
            raise SignalRefused(f"it is for task hub '{hub}'")
        if abs(now_ms - signal.sent_ms) > MAX_AGE_MS:
            raise SignalRefused(f"it was sent {(now_ms - signal.sent_ms) / 1000:.0f} s ago by this clock")
        self._forget_old(now_ms)
        if signal.nonce in self._seen:
            raise SignalRefused("it was received before (a replay)")
        self._seen[signal.nonce] = signal.sent_ms
        return signal

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def _forget_old(self, now_ms: int) -> None:
        if len(self._seen) < 4096:
            return
        self._seen = {n: at for n, at in self._seen.items() if now_ms - at <= MAX_AGE_MS}
        if len(self._seen) >= MAX_REMEMBERED:  # a flood: forget, a replay only costs a read
            self._seen.clear()
