"""The gRPC server: ``TaskHubSidecarService`` on its own port, over the extension's hubs."""

from __future__ import annotations

import logging

import grpc

from ..core.client import TaskHubClient
from .broker import WorkItemBroker
from .client_rpcs import ClientFor, ClientRpcs
from .proto import pb_grpc
from .worker_rpcs import WorkerRpcs

log = logging.getLogger("durable_ext.sidecar")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""The largest message either way: a long history goes to the worker in one ``OrchestratorRequest``."""


class SidecarServicer(ClientRpcs, WorkerRpcs, pb_grpc.TaskHubSidecarServiceServicer):
    def __init__(self, client_for: ClientFor, broker: WorkItemBroker) -> None:
        self.client_for = client_for
        self.broker = broker


class SidecarServer:
    """Serves the protocol on ``host:port`` (0: any free port; :attr:`port` says which)."""

    def __init__(self, client_for: ClientFor, broker: WorkItemBroker, host: str, port: int) -> None:
        self.broker = broker
        self.host = host
        self.requested_port = port
        self.port = 0
        self._servicer = SidecarServicer(client_for, broker)
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        """``host:port``, as the SDKs' ``host_address`` (and the 2.x binding's ``rpcBaseUrl``) take it."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        server = grpc.aio.server(options=options)
        pb_grpc.add_TaskHubSidecarServiceServicer_to_server(self._servicer, server)
        self.port = server.add_insecure_port(f"{self.host}:{self.requested_port}")
        if self.port == 0:
            raise OSError(f"Cannot serve gRPC on {self.host}:{self.requested_port}: the port is taken.")
        await server.start()
        self._server = server
        log.info("Durable Task gRPC service listening on %s", self.address)

    async def stop(self, grace_s: float = 2.0) -> None:
        self.broker.close()
        if self._server is not None:
            await self._server.stop(grace_s)
            self._server = None


def single_hub(client: TaskHubClient) -> ClientFor:
    """A ``client_for`` that serves one hub whatever the caller names."""
    return lambda _hub: client
