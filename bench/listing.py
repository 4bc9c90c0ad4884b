"""Finding instances on a large hub: the instance index against reading the Instances table.

Seeds a task hub in a throw-away Azurite with ``--instances`` orchestrations (five orchestrator names,
created over 30 days, most completed, some failed, running, pending or terminated): each one's
Instances row as the host writes it, and the index rows and counts the index's writer would write.
Then, in one run, each query is timed through the provider (the index) and as the reference has to
answer it, by reading the Instances table (the provider's own fallback for hubs without an index: every
row the filter leaves, sorted in memory). Each figure is the median of ``--repeat`` runs after one warm-up.

    python -m bench.listing                     # 100,000 instances; writes bench/listing_results.md
    python -m bench.listing --instances 5000 --output -
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.data.tables import UpdateMode

from durable_ext.azurestorage import table_batch
from durable_ext.azurestorage.index_queries import index_counts, index_page
from durable_ext.azurestorage.instance_index import Listed, listing_rows, total_key
from durable_ext.azurestorage.instance_queries import count_rows, query_page
from durable_ext.azurestorage.names import escape_key
from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.azurestorage.settings import AzureStorageSettings
from durable_ext.azurestorage.table_batch import BatchOperation
from durable_ext.core.history import OrchestrationStatus
from durable_ext.core.queries import InstanceOrder, InstanceQuery
from durable_ext.host.azurite import AzuriteProcess

NAMES = {"process_order": 50, "send_invoice": 25, "sync_inventory": 15, "monthly_report": 7, "onboard": 3}
STATUSES = {"Completed": 80, "Running": 10, "Failed": 5, "Pending": 3, "Terminated": 2}
WRITERS = 64
RESULTS = Path(__file__).with_name("listing_results.md")

S = OrchestrationStatus


def queries(now: datetime) -> list[tuple[str, InstanceQuery]]:
    page = InstanceQuery(order=InstanceOrder.NEWEST, page_size=25, show_input=False)
    failed = frozenset({S.Failed})
    running = frozenset({S.Running})
    last_day = {"created_from": now - timedelta(days=1), "created_to": now}
    return [
        ("first page, newest first (25)", page),
        ("failed `send_invoice`, newest first (25)", replace(page, name="send_invoice", statuses=failed)),
        (
            "last day's running, oldest first (25)",
            replace(page, order=InstanceOrder.OLDEST, statuses=running, **last_day),
        ),
    ]


COUNTS = [
    ("counts per status, whole hub", InstanceQuery()),
    ("counts per status of one orchestrator", InstanceQuery(name="monthly_report")),
]


def _pick(weights: dict[str, int], rng: random.Random) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


async def seed(service: AzureStorageOrchestrationService, count: int, now: datetime) -> None:
    """Each instance's Instances row as the host writes it, and the index rows and counts that the
    index's writer would have written for it (in bulk transactions, which is quicker to load)."""
    rng = random.Random(19)
    started = time.perf_counter()
    lean = service.instances.lean
    limit = asyncio.Semaphore(WRITERS)
    index_rows: dict[str, list[dict[str, Any]]] = {pk: [] for pk in service.index.partition_keys}
    totals: Counter[tuple[str, str, str]] = Counter()

    async def write(row: dict[str, Any]) -> None:
        async with limit:
            if lean is not None:
                await lean.write(row, merge=False)
            else:
                await service.instances.table.upsert_entity(row, mode=UpdateMode.REPLACE)

    rows = []
    for i in range(count):
        instance_id = f"{i:08x}-{rng.getrandbits(32):08x}"
        created = now - timedelta(seconds=rng.uniform(0, 30 * 86_400))
        name, status = _pick(NAMES, rng), _pick(STATUSES, rng)
        rows.append(
            {
                "PartitionKey": escape_key(instance_id),
                "RowKey": "",
                "Name": name,
                "Version": "",
                "RuntimeStatus": status,
                "CreatedTime": created,
                "LastUpdatedTime": created + timedelta(seconds=5),
                "Input": json.dumps(json.dumps({"region": rng.choice(["eu", "us", "asia"]), "n": i})),
                "CustomStatus": json.dumps({"stage": rng.choice(["packing", "shipping", "done"])}),
                "ExecutionId": f"{i:032x}",
                "TaskHubName": service.hub_name,
            }
        )
        partition = service.index.partition_of(instance_id)
        index_rows[partition] += listing_rows(partition, instance_id, Listed(created, name, status))
        totals[(partition, status, name)] += 1
    for start in range(0, count, 10_000):
        await asyncio.gather(*(write(row) for row in rows[start : start + 10_000]))
        print(
            f"  {min(count, start + 10_000):,} Instances rows in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    for (partition, status, name), n in totals.items():
        index_rows[partition].append(
            {"PartitionKey": partition, "RowKey": total_key(status, name, 0), "Count": n}
        )
    batches = [rows[i : i + 99] for rows in index_rows.values() for i in range(0, len(rows), 99)]
    at_once = asyncio.Semaphore(4)

    async def submit(batch: list[dict[str, Any]]) -> None:
        async with at_once:
            ops = [BatchOperation("upsert", row) for row in batch]
            await table_batch.submit(service.index.table, ops, service.index.lean)

    await asyncio.gather(*(submit(batch) for batch in batches))
    written = sum(len(rows) for rows in index_rows.values())
    print(f"  {written:,} index rows in {time.perf_counter() - started:.0f} s", flush=True)


async def timed(call: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    result = await call()  # warm-up
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = await call()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


async def measure(count: int, repeat: int) -> list[tuple[str, float, float, str]]:
    rows: list[tuple[str, float, float, str]] = []
    async with AzuriteProcess() as azurite:
        hub = "listing" + str(count)
        settings = AzureStorageSettings(hub_name=hub, connection_string=azurite.connection_string)
        service = AzureStorageOrchestrationService(settings)
        try:
            await service.ensure_task_hub()
            assert service.index.built
            now = datetime.now(UTC)
            await seed(service, count, now)
            for label, query in queries(now):
                fast, page = await timed(
                    lambda q=query: index_page(service.index, service.instances, q), repeat
                )
                slow, reference = await timed(lambda q=query: query_page(service.instances.table, q), repeat)
                same = [s.instance_id for s in page.states] == [s.instance_id for s in reference.states]
                rows.append((label, fast, slow, "same page" if same else "PAGES DIFFER"))
            for label, query in COUNTS:
                fast, counts = await timed(lambda q=query: index_counts(service.index, q), repeat)
                slow, scanned = await timed(lambda q=query: count_rows(service.instances.table, q), repeat)
                rows.append((label, fast, slow, "same counts" if counts == scanned else "COUNTS DIFFER"))
        finally:
            await service.close()
    return rows


def report(count: int, repeat: int, rows: list[tuple[str, float, float, str]]) -> str:
    lines = [
        "# Finding instances on a large hub",
        "",
        f"`python -m bench.listing --instances {count} --repeat {repeat}`: a hub of {count:,} orchestration",
        "instances in Azurite, each query timed through the instance index and by reading the Instances",
        "table as the reference must (every row the filter leaves, sorted in memory). Medians of",
        f"{repeat} runs after a warm-up, in one run on this machine.",
        "",
        "| query | instance index | reading the Instances table | ratio | check |",
        "|---|---|---|---|---|",
    ]
    for label, fast, slow, check in rows:
        lines.append(
            f"| {label} | {fast * 1000:,.0f} ms | {slow * 1000:,.0f} ms | {slow / fast:,.0f}x | {check} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", default=str(RESULTS), help="where the report goes ('-': print only)")
    args = parser.parse_args()
    rows = asyncio.run(measure(args.instances, args.repeat))
    text = report(args.instances, args.repeat, rows)
    print(text)
    if args.output != "-":
        Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
