"""The queue output on Azurite: a missing queue is created, names resolve per invocation, both encodings."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import azure.functions as func
import pytest
import pytest_asyncio

from bindings.base import FunctionInfo, InvocationContext
from bindings.storage.accounts import StorageAccounts
from bindings.storage.queue_listener import QueueListener, ReceivedQueueMessage
from bindings.storage.queue_options import QueuesOptions
from bindings.storage.queue_output import QueueOutputBindingProvider
from bindings.storage.queue_watch import QueueWatch
from durable_ext.errors import ConfigurationError


class Settings:
    def __init__(self, values: dict[str, str], queues: dict[str, Any] | None = None) -> None:
        self.values = values
        self.queues = queues or {}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def resolve(self, value: str, where: str = "") -> str:
        for key, setting in self.values.items():
            value = value.replace(f"%{key}%", setting)
        return value

    def host_section(self, *path: str) -> dict[str, Any]:
        return self.queues if path == ("extensions", "queues") else {}


def writer(out: func.Out[str]) -> None:
    return None


FUNCTION = FunctionInfo("writer", "httpTrigger", {"type": "httpTrigger", "name": "req"}, (), writer)


@pytest_asyncio.fixture(loop_scope="session")
async def accounts(connection_string: str) -> AsyncIterator[StorageAccounts]:
    found = StorageAccounts({"AzureWebJobsStorage": connection_string}.get)
    try:
        yield found
    finally:
        await found.close()


def binding(queue_name: str) -> dict[str, Any]:
    return {"type": "queue", "direction": "OUT", "name": "out", "queueName": queue_name}


async def test_a_missing_queue_is_created_and_the_name_resolves_per_invocation(
    accounts: StorageAccounts, connection_string: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    watch = QueueWatch()
    woken: list[str] = []
    queues = accounts.clients("AzureWebJobsStorage").queues
    watch.watch(queues, f"out-{tag}-abc", lambda: woken.append("yes"))
    provider = QueueOutputBindingProvider(accounts, Settings({"PREFIX": "Out"}), watch)
    output = provider.create_output(FUNCTION, binding("%PREFIX%-{Tag}-{queueTrigger}"))
    invocation = InvocationContext("i", "writer", binding_data={"tag": tag, "QueueTrigger": "ABC"})

    await output.write(["one", {"n": 2}], invocation)

    client = queues.get_queue_client(f"out-{tag}-abc")
    texts = [base64.b64decode(str(m.content)).decode() for m in await client.peek_messages(max_messages=5)]
    assert texts == ["one", '{\n  "n": 2\n}']
    assert woken == ["yes"]


async def test_encoding_none_writes_and_reads_the_text_itself(accounts: StorageAccounts) -> None:
    name = "plain" + uuid.uuid4().hex[:8]
    settings = Settings({}, {"messageEncoding": "none"})
    output = QueueOutputBindingProvider(accounts, settings, QueueWatch()).create_output(
        FUNCTION, binding(name)
    )
    await output.write("just text", InvocationContext("i", "writer"))
    queues = accounts.clients("AzureWebJobsStorage").queues
    [stored] = await queues.get_queue_client(name).peek_messages()
    assert stored.content == "just text"

    seen: list[bytes] = []
    handled = asyncio.Event()

    async def handler(message: ReceivedQueueMessage) -> None:
        seen.append(message.body)
        handled.set()

    listener = QueueListener(
        queues=queues,
        queue_name=name,
        poison_queue_name=None,
        options=QueuesOptions(message_encoding="none", max_polling_interval_s=0.2),
        handler=handler,
        owner="Function 'test'",
        watch=QueueWatch(),
    )
    await listener.start()
    try:
        await asyncio.wait_for(handled.wait(), 10)
    finally:
        await listener.stop()
    assert seen == [b"just text"]


async def test_bad_names_are_refused_at_load_or_at_write(accounts: StorageAccounts) -> None:
    provider = QueueOutputBindingProvider(accounts, Settings({}), QueueWatch())
    with pytest.raises(ConfigurationError, match="'writer', binding 'out'"):
        provider.create_output(FUNCTION, binding("no_underscores"))
    with pytest.raises(ConfigurationError, match="queueName"):
        provider.create_output(FUNCTION, {"type": "queue", "name": "out"})
    output = provider.create_output(FUNCTION, binding("q-{kind}"))
    with pytest.raises(ConfigurationError, match="consecutive"):
        await output.write("x", InvocationContext("i", "writer", binding_data={"kind": "-bad"}))
    with pytest.raises(TypeError, match="returned None"):
        await output.write(None, InvocationContext("i", "writer"))
