"""The Durable Functions extension: the registry of durable functions, the engine, started once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from ..core.client import TaskHubClient
from ..core.health import StorageHealth
from ..core.jobs import JobRunner
from ..core.retention import Retention
from ..core.service import TaskHubService
from ..core.worker import Runners, TaskHubWorker
from ..core.worker_id import default_worker_id
from ..errors import ConfigurationError
from .functions import FunctionRegistry
from .grpc_app_runners import AppExecution, app_runners
from .http_activity import HttpActivity
from .options import DurableTaskOptions
from .providers import create_service
from .storage_watch import StorageWatch, WorkerStarter

log = logging.getLogger("durable_ext.extension")

SettingLookup = Callable[[str], "str | None"]


class DurableTaskExtension:
    """Owns the task hub worker for the app's own hub, and clients for any hub the app names."""

    def __init__(
        self,
        options: DurableTaskOptions,
        get_setting: SettingLookup,
        *,
        system_key: str | None = None,
        runners: Runners | None = None,
        grpc_app: bool = False,
    ) -> None:
        """``runners``: who runs the hub's work (default: the app's functions). ``grpc_app``: the app's
        SDK speaks the gRPC protocol (the 2.x SDK)."""
        self.options = options
        self.get_setting = get_setting
        self.system_key = system_key
        """The durable task key the host issued: the ``code`` of every management link handed out."""
        self.functions = FunctionRegistry()
        self.service = self._create_service(options.hub_name, None)
        self.client = TaskHubClient(self.service)
        self.http_activity = HttpActivity()
        self._orchestrator_pool = ThreadPoolExecutor(
            options.max_concurrent_orchestrator_functions, thread_name_prefix="orchestrator"
        )
        self._entity_pool = ThreadPoolExecutor(
            options.max_concurrent_entity_functions, thread_name_prefix="entity"
        )
        self.grpc_address: str | None = None
        """Where this host serves the gRPC protocol (``host:port``), when it does."""
        runners = runners or (self._grpc_app_runners() if grpc_app else self._sdk_runners())
        self.worker = TaskHubWorker(
            self.service,
            runners.orchestrations,
            runners.activities,
            max_concurrent_orchestrations=options.max_concurrent_orchestrator_functions,
            max_concurrent_activities=options.max_concurrent_activity_functions,
            entities=runners.entities,
        )
        self.jobs = JobRunner(self.service.jobs, self.client, default_worker_id())
        """Runs the hub's bulk jobs (``core.jobs``) beside the worker."""
        self.retention = (
            Retention(self.jobs, options.hub_name, options.retention_days, options.retention_check_interval_s)
            if options.retention_days
            else None
        )
        self._start_lock = asyncio.Lock()
        self.storage_watch = StorageWatch(self.service.health)
        self.starter = WorkerStarter(self._start_worker, self.storage_watch)
        self._other_hubs: dict[tuple[str, str], tuple[TaskHubService, TaskHubClient]] = {}

    def _grpc_app_runners(self) -> Runners:
        return app_runners(
            AppExecution(self.functions),
            max_batch_size=self.options.max_entity_operation_batch_size,
            reorder_window_minutes=self.options.entity_message_reorder_window_minutes,
        )

    def _sdk_runners(self) -> Runners:
        """The 1.x SDK's runners (imported here: an app of the 2.x SDK has no 1.x SDK to import)."""
        from .entity_runner import SdkEntityRunner
        from .runners import SdkActivityRunner, SdkOrchestrationRunner

        return Runners(
            SdkOrchestrationRunner(self.functions, self._orchestrator_pool),
            SdkActivityRunner(self.functions, self.http_activity),
            SdkEntityRunner(
                self.functions,
                self._entity_pool,
                max_batch_size=self.options.max_entity_operation_batch_size,
                reorder_window=timedelta(minutes=self.options.entity_message_reorder_window_minutes),
            ),
        )

    @property
    def hub_name(self) -> str:
        return self.options.hub_name

    async def _start_worker(self) -> None:
        await self.worker.start()
        self.jobs.start()
        if self.retention is not None:
            self.retention.start()

    def connection_string(self, connection_name: str | None) -> str:
        """The connection string behind an app setting name (``Storage`` means ``AzureWebJobsStorage``)."""
        name = connection_name or self.options.connection_name
        for candidate in (name, f"AzureWebJobs{name}"):
            value = self.get_setting(candidate)
            if value:
                return value
        raise ConfigurationError(
            f"The storage connection setting '{name}' is not set. Add it to local.settings.json Values "
            "or the environment (for Azurite use UseDevelopmentStorage=true)."
        )

    def _create_service(self, hub_name: str, connection_name: str | None) -> TaskHubService:
        return create_service(self.options, hub_name, connection_name, self.connection_string)

    def client_for(self, hub_name: str | None, connection_name: str | None) -> TaskHubClient:
        """The client of the app's hub, or of another hub named by a binding or a request."""
        return self._hub(hub_name, connection_name)[1]

    def service_for(self, hub_name: str | None, connection_name: str | None) -> TaskHubService:
        """The storage service of the app's hub, or of another hub (its client's service)."""
        return self._hub(hub_name, connection_name)[0]

    def _hub(self, hub_name: str | None, connection_name: str | None) -> tuple[TaskHubService, TaskHubClient]:
        key = self._hub_key(hub_name, connection_name)
        if key == self._hub_key(None, None):
            return self.service, self.client
        if key not in self._other_hubs:
            service = self._create_service(hub_name or self.hub_name, connection_name)
            self._other_hubs[key] = (service, TaskHubClient(service))
        return self._other_hubs[key]

    def _hub_key(self, hub_name: str | None, connection_name: str | None) -> tuple[str, str]:
        """Which hub a name and connection setting mean: ``Storage`` is ``AzureWebJobsStorage``, and a
        memory hub lives in this process whatever connection names it."""
        connection = connection_name if connection_name not in (None, "", "Storage") else None
        if not self.service.durable:
            connection = ""
        return (hub_name or self.hub_name).lower(), connection or self.options.connection_name

    def health_for(self, hub_name: str | None, connection_name: str | None) -> StorageHealth:
        """The storage health of a hub's account, creating nothing: a hub not used yet reads as the
        app's own (a request naming it is refused or creates it in its handler)."""
        found = self._other_hubs.get(self._hub_key(hub_name, connection_name))
        return (found[0] if found else self.service).health

    def is_own_hub(self, hub_name: str | None) -> bool:
        return not hub_name or hub_name.lower() == self.hub_name.lower()

    async def start_once(self) -> None:
        """Start the task hub worker if it is not running yet (listeners call this on start).

        When storage does not answer within the retry budget, the worker goes on starting in the
        background (saying every few seconds what it waits for) and this returns, so the host serves.
        """
        async with self._start_lock:
            if self.worker.started or self.starter.task is not None:
                return
            log.info("Starting task hub worker for hub '%s'", self.hub_name)
            self.storage_watch.start()
            task = self.starter.begin()
            done, _ = await asyncio.wait({task}, timeout=self.options.storage_retry_budget_s)
            if task in done:
                task.result()  # an error that is not storage's own stops the host, as before

    async def stop(self) -> None:
        await self.starter.stop()
        await self.storage_watch.stop()
        if self.retention is not None:
            await self.retention.stop()
        await self.jobs.stop()
        await self.worker.stop()
        await self.http_activity.close()
        await self.service.close()
        for service, _ in self._other_hubs.values():
            await service.close()
        self._orchestrator_pool.shutdown(wait=False, cancel_futures=True)
        self._entity_pool.shutdown(wait=False, cancel_futures=True)
