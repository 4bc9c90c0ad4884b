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
        # the SDK wrapper is called positionally with the context JSON, like the Functions worker would
        self.extension.functions.add_orchestrator(name, self.function.user_function)
        return _StartEngine(self.extension)


@dataclass
class EntityTriggerBinding:
    function: FunctionInfo
    extension: DurableTaskExtension

    def create_listener(self, invoker: FunctionInvoker) -> Listener:
        name = durable_name(self.function, "entityName")
        # like orchestrators: the SDK's entity wrapper takes the batch JSON and returns the result JSON
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

    def value(self, invocation: InvocationContext) -> Any:
        return client_binding_json(
            self.server_base_url(),
            self.hub_name,
            self.connection_name,
            default_hub=self.default_hub,
            system_key=self.system_key,
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
        keep_falsy_signal_inputs()

    def create_input(self, function: FunctionInfo, binding: dict[str, Any]) -> DurableClientInputBinding:
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
