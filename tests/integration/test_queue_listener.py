"""The queue listener on Azurite: renewal, the concurrency limit, poison rules, a missing queue, stopping."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from bindings.storage.queue_listener import QueueListener, ReceivedQueueMessage
from bindings.storage.queue_options import QueuesOptions
from bindings.storage.queue_watch import QueueWatch

FAST = QueuesOptions(batch_size=4, new_batch_threshold=2, max_polling_interval_s=0.3, max_dequeue_count=3)


@pytest_asyncio.fixture(loop_scope="session")
async def service(connection_string: str) -> AsyncIterator[QueueServiceClient]:
    client = QueueServiceClient.from_connection_string(connection_string)
    try:
        yield client
    finally:
        await client.close()


def new_name() -> str:
    return "q" + uuid.uuid4().hex[:12]


async def put(client: QueueClient, body: str) -> None:
    await client.send_message(base64.b64encode(body.encode()).decode())


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def count(client: QueueClient) -> int:
    properties = await client.get_queue_properties()
    return int(properties.approximate_message_count or 0)


def listener(
    service: QueueServiceClient,
    name: str,
    handler: Callable[[ReceivedQueueMessage], Awaitable[None]],
    options: QueuesOptions = FAST,
    **extra: Any,
) -> QueueListener:
    return QueueListener(
        queues=service,
        queue_name=name,
        poison_queue_name=f"{name}-poison",
        options=options,
        handler=handler,
        owner="Function 'test'",
        watch=QueueWatch(),
        **extra,
    )


async def test_visibility_is_renewed_while_the_handler_runs(service: QueueServiceClient) -> None:
    name = new_name()
    queue = service.get_queue_client(name)
    await queue.create_queue()
    await put(queue, "slow")
    seen: list[ReceivedQueueMessage] = []

    async def slow(message: ReceivedQueueMessage) -> None:
        seen.append(message)
        await asyncio.sleep(8)

    running = listener(service, name, slow, message_visibility_s=6)  # renewed every 3 s
    await running.start()
    try:
        await eventually(lambda: asyncio.sleep(0, bool(seen)))
        for _ in range(15):  # 7.5 s, past the 6 s the message was first invisible for
            assert [m async for m in queue.receive_messages(visibility_timeout=1)] == []
            await asyncio.sleep(0.5)
        await eventually(lambda: asyncio.sleep(0, running.running == 0))
    finally:
        await running.stop()
    assert len(seen) == 1 and seen[0].body == b"slow"
    assert seen[0].inserted_on is not None and seen[0].inserted_on.tzinfo is not None
    assert await count(queue) == 0


async def test_no_more_than_batch_size_plus_threshold_run_at_once(service: QueueServiceClient) -> None:
    name = new_name()
    queue = service.get_queue_client(name)
    await queue.create_queue()
    for i in range(10):
        await put(queue, f"m{i}")
    release_all = asyncio.Event()
    gates: list[asyncio.Event] = []
    active = 0
    peak = 0
    handled = 0

    async def blocking(message: ReceivedQueueMessage) -> None:
        nonlocal active, peak, handled
        gate = asyncio.Event()
        gates.append(gate)
        active += 1
        peak = max(peak, active)
        await asyncio.wait(
            [asyncio.ensure_future(gate.wait()), asyncio.ensure_future(release_all.wait())],
            return_when=asyncio.FIRST_COMPLETED,
        )
        active -= 1
        handled += 1

    running = listener(service, name, blocking, QueuesOptions(2, 1, 0.3))
    await running.start()
    try:
        # a batch of 2 runs; the next batch waits until no more than 1 (the threshold) is running
        await eventually(lambda: asyncio.sleep(0, active == 2))
        await asyncio.sleep(0.5)
        assert active == 2
        gates[0].set()
        await eventually(lambda: asyncio.sleep(0, active == 3))
        await asyncio.sleep(0.5)
        assert peak == 3
        release_all.set()
        await eventually(lambda: asyncio.sleep(0, handled == 10))
    finally:
        release_all.set()
        await running.stop()
    assert peak == 3


async def test_failures_retry_then_go_to_poison_with_the_same_text(service: QueueServiceClient) -> None:
    name = new_name()
    queue = service.get_queue_client(name)
    await queue.create_queue()
    await put(queue, "doomed")
    attempts: list[int] = []

    async def failing(message: ReceivedQueueMessage) -> None:
        attempts.append(message.dequeue_count)
        raise RuntimeError("no")

    running = listener(service, name, failing)
    await running.start()
    poison = service.get_queue_client(f"{name}-poison")
    try:

        async def poisoned() -> bool:
            try:
                return await count(poison) == 1
            except Exception:
                return False

        await eventually(poisoned)
    finally:
        await running.stop()
    assert attempts == [1, 2, 3]
    [moved] = [m async for m in poison.receive_messages()]
    assert moved.content == base64.b64encode(b"doomed").decode()
    assert await count(queue) == 0


async def test_a_message_past_its_count_or_not_base64_is_poisoned_without_running(
    service: QueueServiceClient,
) -> None:
    name = new_name()
    queue = service.get_queue_client(name)
    await queue.create_queue()
    await put(queue, "worn out")
    for _ in range(3):  # dequeued three times elsewhere; the listener's receive is the fourth (> 3)
        [taken] = [m async for m in queue.receive_messages(visibility_timeout=30)]
        await queue.update_message(taken, visibility_timeout=0)
    await queue.send_message("this is not base64!")
    ran: list[ReceivedQueueMessage] = []

    async def handler(message: ReceivedQueueMessage) -> None:
        ran.append(message)

    running = listener(service, name, handler)
    await running.start()
    poison = service.get_queue_client(f"{name}-poison")
    try:

        async def both_poisoned() -> bool:
            try:
                return await count(poison) == 2
            except Exception:
                return False

        await eventually(both_poisoned)
    finally:
        await running.stop()
    assert ran == []
    texts = sorted([str(m.content) async for m in poison.receive_messages(max_messages=5)])
    assert texts == sorted([base64.b64encode(b"worn out").decode(), "this is not base64!"])


async def test_a_missing_queue_is_waited_for_and_a_watch_wakes_the_listener(
    service: QueueServiceClient, connection_string: str
) -> None:
    name = new_name()
    polls: list[float] = []
    loop = asyncio.get_running_loop()

    def record(request: Any) -> None:
        if request.http_request.method == "GET" and f"/{name}/messages" in request.http_request.url:
            polls.append(loop.time())

    bodies: list[bytes] = []

    async def handler(message: ReceivedQueueMessage) -> None:
        bodies.append(message.body)

    watch = QueueWatch()
    polled = QueueServiceClient.from_connection_string(connection_string, raw_request_hook=record)
    running = QueueListener(
        queues=polled,
        queue_name=name,
        poison_queue_name=None,
        options=QueuesOptions(max_polling_interval_s=30.0),
        handler=handler,
        owner="Function 'test'",
        watch=watch,
    )
    await running.start()
    try:
        # empty polls of a queue that does not exist yet, each wait about twice the one before (from
        # 0.1 s, randomised by 20 %); once one was 2.5 s (the seventh, 2.7 to 3.9 s), the wait that has
        # just begun is 5.2 s or more
        await eventually(
            lambda: asyncio.sleep(0, len(polls) > 1 and polls[-1] - polls[-2] >= 2.5), timeout_s=20
        )
        queue = service.get_queue_client(name)
        assert not await queue_exists(queue)
        await queue.create_queue()
        await put(queue, "woken")
        began = loop.time()
        watch.notify(polled, name)
        await eventually(lambda: asyncio.sleep(0, bodies == [b"woken"]), timeout_s=10)
        assert loop.time() - began < 3.0  # woken, not found by the next poll
    finally:
        await running.stop()
        await polled.close()


async def queue_exists(queue: QueueClient) -> bool:
    try:
        await queue.get_queue_properties()
    except Exception:
        return False
    return True


async def test_stop_leaves_an_unfinished_message_for_a_retry(service: QueueServiceClient) -> None:
    name = new_name()
    queue = service.get_queue_client(name)
    await queue.create_queue()
    await put(queue, "interrupted")
    started = asyncio.Event()

    async def never_done(message: ReceivedQueueMessage) -> None:
        started.set()
        await asyncio.Event().wait()

    running = listener(service, name, never_done, message_visibility_s=2, stop_grace_s=0.2)
    await running.start()
    await asyncio.wait_for(started.wait(), 10)
    await running.stop()
    assert running.running == 0

    async def back() -> bool:
        return bool([m async for m in queue.receive_messages(visibility_timeout=30)])

    await eventually(back, timeout_s=6)
