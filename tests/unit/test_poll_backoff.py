"""Idle polling back-off: grows while idle, capped, and reset at once by a local wake-up."""

from __future__ import annotations

import asyncio

from durable_ext.azurestorage.queues import MIN_POLL_DELAY_S, PollBackoff


def test_delays_grow_and_are_capped() -> None:
    backoff = PollBackoff(max_delay_s=2.0)
    delays = [backoff.next_delay_s() for _ in range(20)]
    assert delays[0] == MIN_POLL_DELAY_S
    assert delays[8] > delays[2] > delays[0]
    assert max(delays) <= 2.0
    assert delays[-1] == 2.0


def test_reset_starts_over() -> None:
    backoff = PollBackoff(max_delay_s=30.0)
    for _ in range(10):
        backoff.next_delay_s()
    backoff.reset()
    assert backoff.next_delay_s() == MIN_POLL_DELAY_S


async def test_wake_ends_a_long_wait_at_once() -> None:
    backoff = PollBackoff(max_delay_s=30.0)
    for _ in range(15):
        backoff.next_delay_s()
    loop = asyncio.get_running_loop()
    began = loop.time()
    waiting = asyncio.create_task(backoff.wait())
    await asyncio.sleep(0.05)
    backoff.wake()
    await asyncio.wait_for(waiting, 5.0)
    assert loop.time() - began < 5.0  # the wait was 30 s
    assert backoff.next_delay_s() == MIN_POLL_DELAY_S


async def test_a_wake_before_the_wait_is_not_lost() -> None:
    backoff = PollBackoff(max_delay_s=30.0)
    for _ in range(15):
        backoff.next_delay_s()
    backoff.wake()  # e.g. a message sent while the poller was busy receiving
    await asyncio.wait_for(backoff.wait(), 5.0)  # the wait would be 30 s
