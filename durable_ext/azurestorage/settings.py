"""Settings of the Azure Storage provider."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.worker_id import default_worker_id
from .app_lease import AppLeaseOptions
from .clients import StorageTimeouts
from .partition_manager import LeaseOptions


@dataclass(frozen=True)
class AzureStorageSettings:
    hub_name: str
    connection_string: str
    connection_name: str = "AzureWebJobsStorage"
    partition_count: int = 4
    control_queue_batch_size: int = 32
    control_queue_buffer_threshold: int = 256
    control_queue_visibility_timeout_s: float = 300
    work_item_queue_visibility_timeout_s: float = 300
    max_queue_polling_interval_s: float = 30
    """The longest wait between reads of an idle queue."""
    wake_peers: bool = True
    """Signal the worker polling a queue when this process sends to it (``peer_wakeups``)."""
    wake_address: str | None = None
    """Where to take signals (``host:port``); None: the address that reaches storage, any port."""
    max_concurrent_activities: int = 10
    history_cache_size: int = 10_000
    """Instances whose history is kept in memory between episodes (0 turns the cache off)."""
    worker_id: str = field(default_factory=default_worker_id)
    execution_started_dedupe_max_dequeues: int = 10
    stale_message_max_dequeues: int = 5
    poison_message_dequeue_count: int = 10
    """A message delivered more often than this whose work failed every time is moved aside."""
    leases: LeaseOptions = field(default_factory=LeaseOptions)
    use_app_lease: bool = True
    app_lease: AppLeaseOptions = field(default_factory=AppLeaseOptions)
    app_name: str = ""
    timeouts: StorageTimeouts = field(default_factory=StorageTimeouts)
    """Workers of one app share the app lease; empty means the hub name."""
