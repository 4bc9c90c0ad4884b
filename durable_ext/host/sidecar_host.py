"""``durable-ext sidecar``: the task hub served to Durable Task SDK workers and clients over gRPC.

No app is loaded: the workers that connect run the orchestrations, activities and entities. Settings
come from ``host.json`` and ``local.settings.json`` in ``--script-root`` when they are there (the task
hub's name and provider), so a sidecar can serve the hub a Functions app uses. With ``--http-port``
the management API and the monitor are served too.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ..core.clock import restore_clock, use_clock
from ..extension.extension import DurableTaskExtension
from ..extension.http_api import ManagementApi
from ..extension.monitor import MONITOR_PATH, MonitorPage
from ..extension.options import MEMORY, DurableTaskOptions, storage_type_of
from ..sidecar.broker import WorkItemBroker
from ..sidecar.engine import broker_runners
from ..sidecar.server import SidecarServer
from .azurite import AzuriteProcess
from .host import start_storage
from .http_server import HttpRouter, HttpServer
from .keys import HostKeys
from .settings import apply_to_environment, load_settings

log = logging.getLogger("durable_ext.host")

DEFAULT_GRPC_PORT = 4001
"""The port the Durable Task SDKs reach by default (``localhost:4001``)."""


class SidecarHost:
    def __init__(
        self,
        script_root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_GRPC_PORT,
        http_port: int | None = None,
        storage: str | None = None,
    ) -> None:
        self.script_root = script_root.resolve()
        self.host = host
        self.port = port
        self.http_port = http_port
        self.storage = storage
        self.azurite: AzuriteProcess | None = None
        self.extension: DurableTaskExtension | None = None
        self.server: SidecarServer | None = None
        self.http: HttpServer | None = None

    async def start(self) -> None:
        settings = load_settings(self.script_root)
        apply_to_environment(settings)
        options = DurableTaskOptions.from_settings(settings)
        if self.storage is not None:
            options = options.on_storage(storage_type_of(self.storage, "--storage"))
        if options.storage_type != MEMORY:
            self.azurite = await start_storage(settings, options, self.script_root)
        broker = WorkItemBroker()
        runners = broker_runners(
            broker,
            max_batch_size=options.max_entity_operation_batch_size,
            reorder_window_minutes=options.entity_message_reorder_window_minutes,
        )
        keys = HostKeys.from_settings(settings.get)
        self.extension = extension = DurableTaskExtension(
            options, settings.get, system_key=keys.durabletask, runners=runners
        )
        use_clock(extension.service.clock)
        self.server = SidecarServer(lambda hub: extension.client_for(hub, None), broker, self.host, self.port)
        await self.server.start()
        if self.http_port is not None:
            self.http = HttpServer(HttpRouter(settings.route_prefix), self.host, self.http_port, keys=keys)
            self.http.add_routes(ManagementApi(extension).routes())
            self.http.add_routes(MonitorPage(extension).routes())
            await self.http.start()
            log.info("Monitor: %s%s", self.http.base_url, MONITOR_PATH)
        await extension.start_once()
        log.info(
            "Task hub '%s' (%s) served to Durable Task workers and clients at %s",
            options.hub_name,
            options.storage_type,
            self.server.address,
        )

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.extension is not None:
            await self.extension.stop()
        if self.http is not None:
            await self.http.stop()
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
