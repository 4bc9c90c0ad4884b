"""Which provider keeps a task hub (``storageProvider.type``), and building its service.

This is the one place above the providers that names them: everything else talks to the
:class:`~durable_ext.core.service.TaskHubService` it returns.
"""

from __future__ import annotations

from collections.abc import Callable

from ..azurestorage.clients import StorageTimeouts
from ..azurestorage.partition_manager import LeaseOptions
from ..azurestorage.peer_wakeups import parse_address
from ..azurestorage.service import AzureStorageOrchestrationService
from ..azurestorage.settings import AzureStorageSettings
from ..core.service import TaskHubService
from ..errors import ConfigurationError
from .options import MEMORY, POSTGRES, DurableTaskOptions

ConnectionLookup = Callable[["str | None"], str]
"""The connection string behind a connection setting name (raises when it is not set)."""


def create_service(
    options: DurableTaskOptions, hub_name: str, connection_name: str | None, connection: ConnectionLookup
) -> TaskHubService:
    """The service of hub ``hub_name`` on the provider the options choose."""
    if options.storage_type == MEMORY:
        from ..memory.service import MemoryOrchestrationService
        from ..memory.settings import MemorySettings

        settings = MemorySettings(
            hub_name=hub_name, poison_message_dequeue_count=options.poison_message_dequeue_count
        )
        return MemoryOrchestrationService(settings)
    if options.storage_type == POSTGRES:
        return _postgres_service(options, hub_name, connection_name, connection)
    return AzureStorageOrchestrationService(_azure_settings(options, hub_name, connection_name, connection))


def _azure_settings(
    o: DurableTaskOptions, hub_name: str, connection_name: str | None, connection: ConnectionLookup
) -> AzureStorageSettings:
    return AzureStorageSettings(
        hub_name=hub_name,
        connection_string=connection(connection_name),
        connection_name=connection_name or o.connection_name,
        partition_count=o.partition_count,
        control_queue_batch_size=o.control_queue_batch_size,
        control_queue_buffer_threshold=o.control_queue_buffer_threshold,
        control_queue_visibility_timeout_s=o.control_queue_visibility_timeout_s,
        work_item_queue_visibility_timeout_s=o.work_item_queue_visibility_timeout_s,
        max_queue_polling_interval_s=o.queue_polling_ceiling_s,
        wake_peers=o.wake_peers,
        wake_address=_wake_address(o.wake_address),
        max_concurrent_activities=o.max_concurrent_activity_functions,
        use_app_lease=o.use_app_lease,
        poison_message_dequeue_count=o.poison_message_dequeue_count,
        app_name=o.app_name,
        timeouts=StorageTimeouts(o.storage_connect_timeout_s, o.storage_read_timeout_s),
        leases=LeaseOptions(
            worker_lease_s=int(o.lease_interval_s),
            renew_interval_s=o.lease_renew_interval_s,
            acquire_interval_s=o.lease_acquire_interval_s,
        ),
    )


def _postgres_service(
    o: DurableTaskOptions, hub_name: str, connection_name: str | None, connection: ConnectionLookup
) -> TaskHubService:
    from ..postgres.service import PostgresOrchestrationService
    from ..postgres.settings import PostgresSettings

    name = connection_name or o.connection_name
    try:
        dsn = connection(name)
    except ConfigurationError:
        raise ConfigurationError(
            f"The PostgreSQL connection setting '{name}' is not set (host.json storageProvider."
            "connectionStringName names it). Add it to local.settings.json Values or the environment, e.g. "
            f'"{name}": "postgresql://user:password@localhost:5432/durable".'
        ) from None
    try:
        settings = PostgresSettings(
            hub_name=hub_name,
            dsn=dsn,
            connection_name=name,
            schema=o.schema_name,
            lock_timeout_s=o.task_event_lock_timeout_s,
            poison_message_dequeue_count=o.poison_message_dequeue_count,
            max_concurrent_activities=o.max_concurrent_activity_functions,
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"host.json extensions.durableTask.storageProvider.schemaName: {exc}."
        ) from None
    return PostgresOrchestrationService(settings)


def _wake_address(address: str | None) -> str | None:
    if address is not None:
        try:
            parse_address(address)
        except ValueError as exc:
            raise ConfigurationError(f"host.json extensions.durableTask.storageProvider.{exc}.") from None
    return address
