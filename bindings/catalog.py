"""Every binding provider the host offers, built from the services they need.

The host builds one :class:`BindingServices` and asks :func:`providers` for the trigger, input and output
providers; a new binding type is one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from durable_ext.extension.extension import DurableTaskExtension

from .base import InputBindingProvider, OutputBindingProvider, TriggerBindingProvider
from .durable import (
    ActivityTriggerBindingProvider,
    DurableClientBindingProvider,
    EntityTriggerBindingProvider,
    OrchestrationTriggerBindingProvider,
)
from .http import HttpOutputBindingProvider, HttpTriggerBindingProvider, RouteTable
from .storage.accounts import StorageAccounts
from .storage.blob_input import BlobInputBindingProvider
from .storage.blob_output import BlobOutputBindingProvider
from .storage.blob_trigger import BlobTriggerBindingProvider
from .storage.queue_output import QueueOutputBindingProvider
from .storage.queue_trigger import QueueTriggerBindingProvider
from .storage.table_input import TableInputBindingProvider
from .storage.table_output import TableOutputBindingProvider
from .timer.provider import TimerTriggerBindingProvider


class Settings(Protocol):
    """The app's settings as bindings read them (``durable_ext.host.settings.AppSettings``)."""

    def get(self, name: str, default: str | None = None) -> str | None: ...

    def resolve(self, value: str, where: str = ...) -> str: ...

    def host_section(self, *path: str) -> dict[str, Any]: ...


@dataclass
class BindingServices:
    """What the binding providers share: the router, the durable extension, settings, storage accounts."""

    router: RouteTable
    extension: DurableTaskExtension
    settings: Settings
    server_base_url: Callable[[], str]
    executor: Executor
    script_root: Path
    host_id: str
    accounts: StorageAccounts


@dataclass
class Providers:
    triggers: list[TriggerBindingProvider]
    inputs: list[InputBindingProvider]
    outputs: list[OutputBindingProvider]


def providers(services: BindingServices) -> Providers:
    extension = services.extension
    triggers: list[TriggerBindingProvider] = [
        HttpTriggerBindingProvider(services.router),
        OrchestrationTriggerBindingProvider(extension),
        ActivityTriggerBindingProvider(extension),
        EntityTriggerBindingProvider(extension),
        BlobTriggerBindingProvider(services.accounts, services.settings, services.host_id),
        QueueTriggerBindingProvider(services.accounts, services.settings),
        TimerTriggerBindingProvider(
            services.settings,
            services.accounts,
            services.host_id,
            in_process=not extension.service.durable,
        ),
    ]
    inputs: list[InputBindingProvider] = [
        DurableClientBindingProvider(extension, services.server_base_url, services.settings.resolve),
        BlobInputBindingProvider(services.accounts, services.settings),
        TableInputBindingProvider(services.accounts, services.settings),
    ]
    outputs: list[OutputBindingProvider] = [
        HttpOutputBindingProvider(),
        BlobOutputBindingProvider(services.accounts, services.settings),
        QueueOutputBindingProvider(services.accounts, services.settings),
        TableOutputBindingProvider(services.accounts, services.settings),
    ]
    return Providers(triggers, inputs, outputs)
