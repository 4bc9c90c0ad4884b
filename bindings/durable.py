"""Binding providers for the durable triggers and the durable client input binding."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from durable_ext.extension.client_binding import client_binding_json
from durable_ext.extension.extension import DurableTaskExtension

from .base import FunctionInfo, FunctionInvoker, InvocationContext, Listener
from .sdk_fixes import keep_falsy_signal_inputs

log = logging.getLogger("durable_ext.bindings")


GRPC_PROPERTY = "durableRequiresGrpc"
"""What the 2.x SDK's decorators put on every durable binding: it speaks the gRPC protocol."""


def speaks_grpc(binding: dict[str, Any]) -> bool:
    return bool(binding.get(GRPC_PROPERTY))


def is_grpc_app(functions: list[FunctionInfo]) -> bool:
    """True for an app of the 2.x SDK: its durable bindings say it needs the gRPC protocol."""
    return any(speaks_grpc(b) for f in functions for b in f.bindings)


def _grpc_handler(function: FunctionInfo, invoker: FunctionInvoker) -> Callable[[str], Any]:
    """The 2.x SDK's orchestrator or entity function, called as the Functions worker calls it: the
    base64 request as its trigger argument (and a ``context`` if it wants one)."""

    async def handle(request: str) -> Any:
        return await invoker.invoke(request, InvocationContext(str(uuid.uuid4()), function.name))

    return handle


def durable_name(function: FunctionInfo, trigger_property: str) -> str:
    """The registered durable name: the trigger's override property if set, else the function name."""
    override = function.trigger.get(trigger_property)
    return str(override) if override else function.name


@dataclass
class _StartEngine:
    """A listener that registers a durable function and starts the engine (once for all of them)."""

    extension: DurableTaskExtension

    async def start(self) -> None:
        await self.extension.start_once()

    async def stop(self) -> None:
        return None


@dataclass
class OrchestrationTriggerBinding:
    function: FunctionInfo
    extension: DurableTaskExtension

    def create_listener(self, invoker: FunctionInvoker) -> Listener:
        name = durable_name(self.function, "orchestration")
        if speaks_grpc(self.function.trigger):
            self.extension.functions.add_orchestrator(name, _grpc_handler(self.function, invoker))
        else:  # the 1.x SDK's wrapper is called positionally with the context JSON, as the worker does
            self.extension.functions.add_orchestrator(name, self.function.user_function)
        return _StartEngine(self.extension)


@dataclass
class EntityTriggerBinding:
    function: FunctionInfo
    extension: DurableTaskExtension

    def create_listener(self, invoker: FunctionInvoker) -> Listener:
        name = durable_name(self.function, "entityName")
        if speaks_grpc(self.function.trigger):
            self.extension.functions.add_entity(name, _grpc_handler(self.function, invoker))
        else:  # like orchestrators: the 1.x SDK's entity wrapper takes the batch JSON, returns the result's
            self.extension.functions.add_entity(name, self.function.user_function)
        return _StartEngine(self.extension)


@dataclass
class ActivityTriggerBinding:
    function: FunctionInfo
    extension: DurableTaskExtension

    def create_listener(self, invoker: FunctionInvoker) -> Listener:
        name = durable_name(self.function, "activity")

        async def run(argument: Any) -> Any:
            invocation = InvocationContext(str(uuid.uuid4()), self.function.name)
            return await invoker.invoke(argument, invocation)

        self.extension.functions.add_activity(name, run)
        return _StartEngine(self.extension)


class OrchestrationTriggerBindingProvider:
    binding_type = "orchestrationTrigger"

    def __init__(self, extension: DurableTaskExtension) -> None:
        self.extension = extension

    def create_trigger(self, function: FunctionInfo) -> OrchestrationTriggerBinding:
        return OrchestrationTriggerBinding(function, self.extension)


class EntityTriggerBindingProvider:
    binding_type = "entityTrigger"

    def __init__(self, extension: DurableTaskExtension) -> None:
        self.extension = extension

    def create_trigger(self, function: FunctionInfo) -> EntityTriggerBinding:
        return EntityTriggerBinding(function, self.extension)


class ActivityTriggerBindingProvider:
    binding_type = "activityTrigger"

    def __init__(self, extension: DurableTaskExtension) -> None:
        self.extension = extension

    def create_trigger(self, function: FunctionInfo) -> ActivityTriggerBinding:
        return ActivityTriggerBinding(function, self.extension)


@dataclass
class DurableClientInputBinding:
    parameter_name: str
    hub_name: str
    connection_name: str | None
    server_base_url: Callable[[], str]

    default_hub: bool = True
    system_key: str | None = None
    grpc_address: Callable[[], str | None] | None = None
    """For the 2.x SDK's client: where this host serves the gRPC protocol."""

    def value(self, invocation: InvocationContext) -> Any:
        return client_binding_json(
            self.server_base_url(),
            self.hub_name,
            self.connection_name,
            default_hub=self.default_hub,
            system_key=self.system_key,
            grpc_address=self.grpc_address() if self.grpc_address is not None else None,
        )


class DurableClientBindingProvider:
    """``durableClient``: the SDK client's JSON, pointing at this host's own HTTP server.

    ``orchestrationClient``, its name in Durable Functions 1.x, is still accepted, as the extension does.
    """

    binding_type = "durableClient"
    binding_aliases = ("orchestrationClient",)

    def __init__(
        self,
        extension: DurableTaskExtension,
        server_base_url: Callable[[], str],
        resolve: Callable[[str], str] = lambda value: value,
    ) -> None:
        self.extension = extension
        self.server_base_url = server_base_url
        self.resolve = resolve

    def create_input(self, function: FunctionInfo, binding: dict[str, Any]) -> DurableClientInputBinding:
        grpc = speaks_grpc(binding)
        if not grpc:
            keep_falsy_signal_inputs()
        hub = self.resolve(str(binding.get("taskHub") or self.extension.hub_name))
        connection = binding.get("connectionName")
        connection = self.resolve(str(connection)) if connection else None
        return DurableClientInputBinding(
            str(binding["name"]),
            hub,
            connection,
            self.server_base_url,
            self.extension.is_own_hub(hub),
            self.extension.system_key,
            (lambda: self.extension.grpc_address) if grpc else None,
        )


async def close_sdk_client_session() -> None:
    """Close the SDK client's process-wide HTTP session (the Python worker never does; we stop cleanly).

    Only if the app imported the SDK: importing it here would read ``host.json`` from the working
    folder, and a host that is stopping because that file is invalid would fail a second time.
    """
    http_utils = sys.modules.get("azure.durable_functions.models.utils.http_utils")
    if http_utils is None:
        return
    session = getattr(http_utils, "_client_session", None)
    if session is not None and not session.closed:
        await session.close()
