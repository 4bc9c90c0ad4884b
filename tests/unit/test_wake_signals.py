"""Wake-up signals: signed for one task hub, refused when forged, stale, replayed or malformed."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from durable_ext.azurestorage.peer_wakeups import format_address, parse_address
from durable_ext.azurestorage.wake_signals import MAX_AGE_MS, SignalRefused, WakeSigner

NOW_MS = 1_800_000_000_000


def test_a_signal_carries_its_queue_and_due_time() -> None:
    signer = WakeSigner(b"k" * 32, "MyHub")
    signal = WakeSigner(b"k" * 32, "myhub").verify(
        signer.sign("myhub-control-02", NOW_MS + 5000, NOW_MS), NOW_MS
    )
    assert (signal.queue, signal.due_ms, signal.sent_ms) == ("myhub-control-02", NOW_MS + 5000, NOW_MS)


@pytest.mark.parametrize(
    ("receiver", "now_ms", "reason"),
    [
        (WakeSigner(b"x" * 32, "myhub"), NOW_MS, "signature"),
        (WakeSigner(b"k" * 32, "otherhub"), NOW_MS, "task hub 'myhub'"),
        (WakeSigner(b"k" * 32, "myhub"), NOW_MS + MAX_AGE_MS + 1, "ago"),
    ],
)
def test_a_signal_is_refused_with_the_reason(receiver: WakeSigner, now_ms: int, reason: str) -> None:
    datagram = WakeSigner(b"k" * 32, "myhub").sign("myhub-workitems", 0, NOW_MS)
    with pytest.raises(SignalRefused, match=reason):
        receiver.verify(datagram, now_ms)


def test_a_replayed_signal_is_refused() -> None:
    signer = WakeSigner(b"k" * 32, "myhub")
    datagram = signer.sign("myhub-workitems", 0, NOW_MS)
    signer.verify(datagram, NOW_MS)
    with pytest.raises(SignalRefused, match="replay"):
        signer.verify(datagram, NOW_MS + 10)


@pytest.mark.parametrize("datagram", [b"", b"short", bytes(2000)])
def test_noise_is_refused(datagram: bytes) -> None:
    with pytest.raises(SignalRefused):
        WakeSigner(b"k" * 32, "myhub").verify(datagram, NOW_MS)


def test_a_signed_but_malformed_payload_is_refused() -> None:
    payload = b'{"hub":"myhub"}'
    datagram = hmac.new(b"k" * 32, payload, hashlib.sha256).digest() + payload
    with pytest.raises(SignalRefused, match="malformed"):
        WakeSigner(b"k" * 32, "myhub").verify(datagram, NOW_MS)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("10.0.0.4:7000", ("10.0.0.4", 7000)), ("[::1]:0", ("::1", 0)), ("host:1", ("host", 1))],
)
def test_addresses_round_trip(text: str, parsed: tuple[str, int]) -> None:
    assert parse_address(text) == parsed
    assert format_address(*parsed) == text


@pytest.mark.parametrize("text", ["10.0.0.4", ":7000", "host:port", "host:70000"])
def test_a_bad_address_names_the_setting_and_the_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"wakeAddress .* is not host:port"):
        parse_address(text)
