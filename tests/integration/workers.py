"""A task hub worker over a storage service, started for one test and stopped after it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from durable_ext.azurestorage.service import AzureStorageOrchestrationService
from durable_ext.core.worker import ActivityRunner, OrchestrationRunner, TaskHubWorker


@contextlib.asynccontextmanager
async def running_worker(
    service: AzureStorageOrchestrationService,
    executor: ThreadPoolExecutor,
    orchestrations: OrchestrationRunner,
    activities: ActivityRunner,
    **options: Any,
) -> AsyncIterator[TaskHubWorker]:
    worker = TaskHubWorker(
        service,
        orchestrations,
        activities,
        max_concurrent_orchestrations=4,
        max_concurrent_activities=4,
        **options,
    )
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
        await service.close()
        executor.shutdown(wait=True)
