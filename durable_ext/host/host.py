"""The small Functions host: settings, app, storage, bindings, HTTP server, durable engine."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bindings.base import FunctionInfo, Listener
from bindings.catalog import BindingServices, providers
from bindings.durable import close_sdk_client_session, is_grpc_app
from bindings.host_id import host_id
from bindings.http import HttpTriggerListener
from bindings.registry import BindingRegistry
from bindings.storage.accounts import StorageAccounts

from ..azurestorage.connection import expand_connection_string
from ..core.clock import restore_clock, use_clock
from ..extension.extension import DurableTaskExtension
from ..extension.http_api import ManagementApi
from ..extension.http_availability import management_budget
from ..extension.monitor import MONITOR_PATH, MonitorPage
from ..extension.options import AZURE_STORAGE, MEMORY, DurableTaskOptions, storage_type_of
from ..sidecar.broker import WorkItemBroker
from ..sidecar.server import SidecarServer
from .admin import HostAdmin
from .app_loader import load_function_app
from .auth import is_loopback_bind
from .azurite import AzuriteProcess, ensure_dev_storage
from .function_filter import enabled_functions
from .function_summary import function_lines
from .http_server import HttpRouter, HttpServer
from .keys import MASTER_KEY_SETTING, HostKeys
from .logs import apply_log_format
from .settings import AppSettings, apply_to_environment, load_settings

log = logging.getLogger("durable_ext.host")


async def start_storage(
    settings: AppSettings, options: DurableTaskOptions, script_root: Path
) -> AzuriteProcess | None:
    """Start Azurite when the app uses ``UseDevelopmentStorage=true`` and none is running (for the task
    hub, or with another provider, for ``AzureWebJobsStorage``: timers, queues and blobs)."""
    name = options.connection_name if options.storage_type == AZURE_STORAGE else "AzureWebJobsStorage"
    value = settings.get(name) or settings.get(f"AzureWebJobs{name}")
    if not value or expand_connection_string(value) == value:
        return None
    azurite = await ensure_dev_storage(script_root)
    if azurite is not None:
        log.info("Started Azurite for UseDevelopmentStorage=true (data in %s)", script_root / ".azurite")
    return azurite


class FunctionsHost:
    def __init__(
        self,
        script_root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 7071,
        worker_process: bool = False,
        storage: str | None = None,
        grpc_port: int | None = None,
    ) -> None:
        self.script_root = script_root.resolve()
        self.host = host
        self.port = port
        self.worker_process = worker_process
        """One of several processes started by ``--workers``: shares the port; storage is started."""
        self.storage = storage
        """The task hub's provider when not host.json's ``storageProvider.type`` (``--storage``)."""
        self.grpc_port = grpc_port
        """Where to serve the gRPC protocol (0: any free port); an app of the 2.x SDK always has it."""
        self.grpc: SidecarServer | None = None
        self.azurite: AzuriteProcess | None = None
        self.extension: DurableTaskExtension | None = None
        self.server: HttpServer | None = None
        self._listeners: list[Listener] = []
        self._executor: ThreadPoolExecutor | None = None
        self._accounts: StorageAccounts | None = None

    async def start(self) -> None:
        settings = load_settings(self.script_root)
        apply_to_environment(settings)
        apply_log_format()  # DURABLE_EXT_LOG_FORMAT may come from local.settings.json
        options = DurableTaskOptions.from_settings(settings)
        if self.storage is not None:
            options = options.on_storage(storage_type_of(self.storage, "--storage"))
        if not self.worker_process and options.storage_type != MEMORY:
            self.azurite = await start_storage(settings, options, self.script_root)
        keys = HostKeys.from_settings(settings.get)
        loaded = load_function_app(self.script_root, settings)
        grpc_app = is_grpc_app(loaded.functions)
        self.extension = extension = DurableTaskExtension(
            options, settings.get, system_key=keys.durabletask, grpc_app=grpc_app
        )
        use_clock(extension.service.clock)
        if grpc_app or self.grpc_port is not None:
            await self._serve_grpc(extension)
        router = HttpRouter(settings.route_prefix)
        self.server = server = HttpServer(
            router, self.host, self.port, reuse_port=self.worker_process, keys=keys
        )
        the_host_id = host_id(settings.get, self.script_root)
        server.add_routes(HostAdmin(extension, the_host_id).routes())
        server.add_middleware(management_budget(extension))
        server.add_routes(ManagementApi(extension).routes())
        server.add_routes(MonitorPage(extension).routes())
        self._executor = ThreadPoolExecutor(
            options.max_concurrent_activity_functions, thread_name_prefix="function"
        )
        self._accounts = StorageAccounts(settings.get)
        services = BindingServices(
            router=router,
            extension=extension,
            settings=settings,
            server_base_url=lambda: server.base_url,
            executor=self._executor,
            script_root=self.script_root,
            host_id=the_host_id,
            accounts=self._accounts,
        )
        offered = providers(services)
        registry = BindingRegistry(offered.triggers, offered.inputs, self._executor, offered.outputs)
        bound = registry.build(enabled_functions(loaded.functions, settings))
        for name, reason in registry.skipped.items():
            extension.functions.mark_not_loaded(name, reason)
        self._listeners = [binding.create_listener(invoker) for binding, invoker in bound]
        # HTTP routes first: a request that reaches the server while the task hub worker starts (which
        # waits for storage) finds its function, instead of a 404
        self._listeners.sort(key=lambda listener: not isinstance(listener, HttpTriggerListener))
        await server.start()
        extension.storage_watch.start()
        for listener in self._listeners:
            await listener.start()
        self._log_summary(router, options, [binding.function for binding, _ in bound], settings)

    async def _serve_grpc(self, extension: DurableTaskExtension) -> None:
        """The gRPC protocol beside HTTP: the 2.x SDK's client calls it, and so may any Durable Task
        SDK's client (the app's functions do the work, so no worker is handed any)."""
        self.grpc = SidecarServer(
            lambda hub: extension.client_for(hub, None), WorkItemBroker(), self.host, self.grpc_port or 0
        )
        await self.grpc.start()
        extension.grpc_address = self.grpc.address

    def _log_summary(
        self,
        router: HttpRouter,
        options: DurableTaskOptions,
        functions: list[FunctionInfo],
        settings: AppSettings,
    ) -> None:
        assert self.server is not None
        if options.storage_type == MEMORY:
            log.warning(
                "Task hub '%s' (%s) is in memory: nothing is durable, and every instance, history and "
                "message is gone when this process ends. Use the Azure Storage provider (the default "
                "storageProvider.type) for anything you need to keep.",
                options.hub_name,
                options.hub_name_source,
            )
        else:
            log.info(
                "Task hub '%s' (%s), %d partitions",
                options.hub_name,
                options.hub_name_source,
                options.partition_count,
            )
        for line in function_lines(functions, router.routes(), self.server.base_url, settings.resolve):
            log.info("%s", line)
        log.info("Host listening on %s", self.server.base_url)
        log.info("Monitor: %s%s", self.server.base_url, MONITOR_PATH)
        if not is_loopback_bind(self.host) and self.server.authorizer.keys.master is None:
            log.warning(
                "Listening on %s with no %s: callers from other machines are refused by the management "
                "API, the monitor and every function that is not anonymous. Set %s to let them in.",
                self.host,
                MASTER_KEY_SETTING,
                MASTER_KEY_SETTING,
            )

    async def stop(self) -> None:
        for listener in self._listeners:
            await listener.stop()
        if self.grpc is not None:
            await self.grpc.stop()
        if self.extension is not None:
            await self.extension.stop()
        if self.server is not None:
            await self.server.stop()
        await close_sdk_client_session()
        if self._accounts is not None:
            await self._accounts.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self.azurite is not None:
            await self.azurite.stop()
        restore_clock()

    async def serve_forever(self, stop: asyncio.Event) -> None:
        try:
            await self.start()
            await stop.wait()
        finally:
            log.info("Shutting down")
            await self.stop()
