"""A task hub worker over a storage service, started for one test and stopped after it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from durable_ext.core.client import TaskHubClient
from durable_ext.core.service import TaskHubService
from durable_ext.core.worker import ActivityRunner, OrchestrationRunner, TaskHubWorker
from durable_ext.extension.functions import FunctionRegistry
from durable_ext.extension.runners import SdkActivityRunner, SdkOrchestrationRunner

from ..providers import durable_time


@contextlib.asynccontextmanager
async def running_worker(
    service: TaskHubService,
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


@contextlib.asynccontextmanager
async def sdk_worker(service: TaskHubService, registry: FunctionRegistry) -> AsyncIterator[TaskHubClient]:
    """A worker running ``registry``'s SDK functions on ``service`` (any provider), with the service's
    clock as durable time; a client of the hub."""
    executor = ThreadPoolExecutor(2)
    orchestrations, activities = SdkOrchestrationRunner(registry, executor), SdkActivityRunner(registry)
    async with durable_time(service), running_worker(service, executor, orchestrations, activities):
        yield TaskHubClient(service)
