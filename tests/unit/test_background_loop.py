"""A piece of work run in the background: at start or after a first wait, then every interval or when
woken, and on after an error."""

from __future__ import annotations

import asyncio

from durable_ext.core.background_loop import BackgroundLoop


async def test_runs_at_start_then_when_woken_and_goes_on_after_an_error() -> None:
    runs: list[float] = []

    async def body() -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) == 1:
            raise RuntimeError("the first run fails")

    loop = BackgroundLoop("test-loop", body, interval_s=60, what="Testing")
    loop.start()
    await asyncio.sleep(0.05)
    assert len(runs) == 1
    loop.wake()
    await asyncio.sleep(0.05)
    assert len(runs) == 2  # woken long before its interval, and not stopped by the error
    await loop.stop()


async def test_a_first_wait_delays_only_the_first_run() -> None:
    runs: list[float] = []

    async def body() -> None:
        runs.append(asyncio.get_running_loop().time())

    began = asyncio.get_running_loop().time()
    loop = BackgroundLoop("test-loop", body, interval_s=0.05, what="Testing", first_after_s=0.3)
    loop.start()
    await asyncio.sleep(0.15)
    assert runs == []
    await asyncio.sleep(0.4)
    await loop.stop()
    assert runs[0] - began >= 0.3
    assert len(runs) >= 3  # then every interval
