"""B0: what the storage and the client library can do, measured with the same SDK and client options
the host uses: an episode-like mix of queue and table operations from concurrent tasks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from durable_ext.azurestorage.clients import StorageClients

MIX = ("queue.put", "queue.get", "queue.delete", "table.batch", "table.write", "table.query")


async def capacity_probe(
    connection_string: str, rounds: int, concurrency: int = 32, advance: Callable[[int], None] | None = None
) -> tuple[int, float]:
    """Run ``rounds`` rounds of the mix (one put, get and delete, one batch of three rows, one upsert,
    one partition query) over ``concurrency`` tasks; return (operations, seconds)."""
    clients = StorageClients.from_connection_string(connection_string)
    suffix = time.time_ns()
    queues = [clients.queues.get_queue_client(f"probe{suffix}-{i}") for i in range(4)]
    table = clients.tables.get_table_client(f"probe{suffix}")
    try:
        await asyncio.gather(*(q.create_queue() for q in queues), table.create_table())
        gate = asyncio.Semaphore(concurrency)
        before = clients.operations.total

        async def one_round(index: int) -> None:
            async with gate:
                queue = queues[index % len(queues)]
                await queue.send_message(f"message {index}", time_to_live=-1)
                pages = queue.receive_messages(messages_per_page=1).by_page()
                async for page in pages:
                    async for received in page:
                        await queue.delete_message(received)
                    break
                pk = f"p{index}"
                rows = [{"PartitionKey": pk, "RowKey": f"{r:016X}", "Data": "x" * 200} for r in range(3)]
                await table.submit_transaction([("upsert", row) for row in rows])
                await table.upsert_entity({"PartitionKey": pk, "RowKey": "status", "Data": "y" * 200})
                _ = [row async for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": pk})]
                if advance is not None:
                    advance(1)

        began = time.perf_counter()
        await asyncio.gather(*(one_round(i) for i in range(rounds)))
        seconds = time.perf_counter() - began
        operations = clients.operations.total - before
        await asyncio.gather(*(q.delete_queue() for q in queues), table.delete_table())
        return operations, seconds
    finally:
        await clients.close()
