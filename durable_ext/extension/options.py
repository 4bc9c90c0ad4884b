"""Durable Task options from ``host.json``: ``extensions.durableTask`` (2.0) or ``durableTask`` (1.x).

Keys are matched case-insensitively, string values may hold ``%AppSetting%`` references, and time spans
are .NET TimeSpan strings (``"00:00:30"``, ``"1.00:00:00"``, ``"00:00:00.500"``) or plain seconds.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigurationError

DEFAULT_HUB_NAME = "TestHubName"
SITE_NAME_SETTING = "WEBSITE_SITE_NAME"
MIN_HUB_NAME_LENGTH = 3
MAX_HUB_NAME_LENGTH = 45
MAX_QUEUE_VISIBILITY_S = 7 * 24 * 3600.0
REFERENCE_POLLING_CEILING_S = 30.0
"""``maxQueuePollingInterval``'s default, the reference's, which bounds the delay of every message that
a worker is not told about."""
SIGNALLED_POLLING_CEILING_S = 300.0
"""The ceiling when it is not set and workers signal each other (``wakePeers``): messages are then read
when they arrive, and only what nobody signals (a timer whose queue changed hands while its worker
died, a message sent by a process that cannot reach the worker) waits for a poll."""

AZURE_STORAGE = "azurestorage"
MEMORY = "memory"
POSTGRES = "postgres"
STORAGE_TYPES = {
    "azurestorage": AZURE_STORAGE,
    "azure": AZURE_STORAGE,
    "memory": MEMORY,
    "inmemory": MEMORY,
    "postgres": POSTGRES,
    "postgresql": POSTGRES,
}
DEFAULT_CONNECTION_NAMES = {POSTGRES: "PostgresConnection"}
"""The app setting with the connection string when ``connectionStringName`` is not set (else
``AzureWebJobsStorage``)."""

_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_TIME_SPAN_FORMS = (
    re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?"),  # [d.]hh:mm[:ss[.f]]
    re.compile(r"(\d+):(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?"),  # d:hh:mm:ss[.f]
)


class SettingsSource(Protocol):
    """What the options need from the host's app settings (``durable_ext.host.settings.AppSettings``)."""

    @property
    def host_json(self) -> dict[str, Any]: ...

    def get(self, name: str, default: str | None = None) -> str | None: ...

    def resolve(self, value: str, where: str = ...) -> str: ...


def find_key(mapping: Mapping[str, Any], key: str) -> Any:
    """The value of ``key`` in ``mapping``, matched case-insensitively (exact match first); None if absent."""
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    return next((value for name, value in mapping.items() if name.lower() == lowered), None)


def default_concurrency() -> int:
    return 10 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class DurableTaskOptions:
    """The ``durableTask`` section of ``host.json`` with the Durable Functions defaults."""

    hub_name: str
    hub_name_source: str
    storage_type: str = AZURE_STORAGE
    """Which provider keeps the task hub: ``azurestorage``, ``postgres`` or ``memory``
    (``storageProvider.type``)."""
    connection_name: str = "AzureWebJobsStorage"
    schema_name: str = "dt"
    """The PostgreSQL schema of the task hub's tables (``storageProvider.schemaName``)."""
    task_event_lock_timeout_s: float = 120
    """How long a PostgreSQL worker's lock on an episode or activity lasts unrenewed
    (``storageProvider.taskEventLockTimeout``, as the MSSQL provider's)."""
    partition_count: int = 4
    control_queue_batch_size: int = 32
    control_queue_buffer_threshold: int = 256
    control_queue_visibility_timeout_s: float = 300
    work_item_queue_visibility_timeout_s: float = 300
    max_queue_polling_interval_s: float | None = None
    """``maxQueuePollingInterval`` as set; None when host.json leaves it out."""
    wake_peers: bool = True
    wake_address: str | None = None
    max_concurrent_activity_functions: int = field(default_factory=default_concurrency)
    max_concurrent_orchestrator_functions: int = field(default_factory=default_concurrency)
    max_concurrent_entity_functions: int = field(default_factory=default_concurrency)
    max_entity_operation_batch_size: int = 5000
    entity_message_reorder_window_minutes: int = 30
    retention_days: int | None = None
    """``retention.purgeFinishedAfterDays``: finished instances created longer ago are purged."""
    retention_check_interval_s: float = 3600
    poison_message_dequeue_count: int = 10
    fetch_large_messages_automatically: bool = True
    use_app_lease: bool = True
    app_name: str = ""
    lease_interval_s: float = 60
    lease_renew_interval_s: float = 20
    lease_acquire_interval_s: float = 30
    storage_connect_timeout_s: float = 2.0
    storage_read_timeout_s: float = 10.0
    storage_retry_budget_s: float = 5.0
    """How long a request to the durable client or the management API waits out storage faults."""
    extended_sessions_enabled: bool = False
    max_orchestration_actions: int = 100_000
    store_inputs_in_orchestration_history: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def queue_polling_ceiling_s(self) -> float:
        """The longest wait between reads of an idle queue: ``maxQueuePollingInterval`` when set, else 30 s
        (the reference's), or 5 minutes while workers signal each other."""
        if self.max_queue_polling_interval_s is not None:
            return self.max_queue_polling_interval_s
        return SIGNALLED_POLLING_CEILING_S if self.wake_peers else REFERENCE_POLLING_CEILING_S

    def on_storage(self, storage_type: str) -> DurableTaskOptions:
        """These options with another provider (``--storage``): a connection setting name left at the
        old provider's default becomes the new one's."""
        old_default = DEFAULT_CONNECTION_NAMES.get(self.storage_type, "AzureWebJobsStorage")
        name = self.connection_name
        if name == old_default:
            name = DEFAULT_CONNECTION_NAMES.get(storage_type, "AzureWebJobsStorage")
        return replace(self, storage_type=storage_type, connection_name=name)

    @classmethod
    def from_settings(cls, settings: SettingsSource) -> DurableTaskOptions:
        """Read the options from ``settings.host_json``, resolving ``%AppSetting%`` references."""
        section, label = durable_task_section(settings)
        top = _Reader(section, label, settings)
        storage = _storage_reader(top)
        hub_name, hub_name_source = _hub_name(top, settings)
        leases = _lease_intervals(storage)
        retention = _Reader(
            _object(section, "retention", f"{label}.retention"), f"{label}.retention", settings
        )
        storage_type = storage_type_of(storage.text(AZURE_STORAGE, "type"), f"{storage.label}.type")
        return cls(
            hub_name=hub_name,
            hub_name_source=hub_name_source,
            storage_type=storage_type,
            connection_name=storage.text(
                DEFAULT_CONNECTION_NAMES.get(storage_type, "AzureWebJobsStorage"),
                "connectionName",
                "connectionStringName",
                "azureStorageConnectionStringName",
            ),
            schema_name=storage.text("dt", "schemaName"),
            task_event_lock_timeout_s=storage.seconds("taskEventLockTimeout", 120, None),
            partition_count=storage.integer("partitionCount", 4, 1, 16),
            control_queue_batch_size=storage.integer("controlQueueBatchSize", 32, 1, 32),
            control_queue_buffer_threshold=storage.integer("controlQueueBufferThreshold", 256, 1, 1000),
            control_queue_visibility_timeout_s=storage.seconds(
                "controlQueueVisibilityTimeout", 300, MAX_QUEUE_VISIBILITY_S
            ),
            work_item_queue_visibility_timeout_s=storage.seconds(
                "workItemQueueVisibilityTimeout", 300, MAX_QUEUE_VISIBILITY_S
            ),
            max_queue_polling_interval_s=storage.seconds("maxQueuePollingInterval", 0, None) or None,
            wake_peers=storage.boolean("wakePeers", True),
            wake_address=storage.text("", "wakeAddress") or None,
            max_concurrent_activity_functions=top.integer(
                "maxConcurrentActivityFunctions", default_concurrency(), 1, None
            ),
            max_concurrent_orchestrator_functions=top.integer(
                "maxConcurrentOrchestratorFunctions", default_concurrency(), 1, None
            ),
            max_concurrent_entity_functions=top.integer(
                "maxConcurrentEntityFunctions", default_concurrency(), 1, None
            ),
            max_entity_operation_batch_size=top.integer("maxEntityOperationBatchSize", 5000, 1, None),
            entity_message_reorder_window_minutes=top.integer(
                "entityMessageReorderWindowInMinutes", 30, 0, None
            ),
            retention_days=retention.integer("purgeFinishedAfterDays", 0, 0, None) or None,
            retention_check_interval_s=retention.integer("checkIntervalMinutes", 60, 1, None) * 60.0,
            poison_message_dequeue_count=storage.integer("poisonMessageDequeueCount", 10, 1, 1000),
            fetch_large_messages_automatically=storage.boolean("FetchLargeMessagesAutomatically", True),
            use_app_lease=top.boolean("useAppLease", True),
            app_name=settings.get(SITE_NAME_SETTING)
            or Path(getattr(settings, "script_root", ".")).resolve().name,
            lease_interval_s=leases[0],
            lease_renew_interval_s=leases[1],
            lease_acquire_interval_s=leases[2],
            storage_connect_timeout_s=storage.seconds("connectTimeout", 2.0, 60),
            storage_read_timeout_s=storage.seconds("requestTimeout", 10.0, 300),
            storage_retry_budget_s=storage.seconds("retryBudget", 5.0, 300),
            extended_sessions_enabled=top.boolean("extendedSessionsEnabled", False),
            max_orchestration_actions=top.integer("maxOrchestrationActions", 100_000, 1, None),
            store_inputs_in_orchestration_history=top.boolean("storeInputsInOrchestrationHistory", False),
            raw=section,
        )


def storage_type_of(value: str, where: str) -> str:
    """The provider a ``storageProvider.type`` value (or ``--storage``) names, case-insensitively."""
    chosen = STORAGE_TYPES.get(value.strip().lower().replace("_", "").replace("-", ""))
    if chosen is not None:
        return chosen
    known = (
        "AzureStorage (the default), Postgres (a PostgreSQL database), or Memory (in-process, nothing "
        "durable; for tests and demos)."
    )
    if value.strip().lower() in ("mssql", "microsoftsql", "netherite"):
        raise ConfigurationError(f"{where} is '{value}': durable-ext does not run that provider; use {known}")
    raise ConfigurationError(f"{where} is '{value}', which is not a storage provider; use {known}")


def durable_task_section(settings: SettingsSource) -> tuple[dict[str, Any], str]:
    """The durableTask object and its label: 2.0 ``extensions.durableTask``, else 1.x ``durableTask``."""
    extensions = _object(settings.host_json, "extensions", "extensions")
    section = _object(extensions, "durableTask", "extensions.durableTask")
    if section or find_key(settings.host_json, "durableTask") is None:
        return section, "extensions.durableTask"
    return _object(settings.host_json, "durableTask", "durableTask"), "durableTask"


def _object(parent: Mapping[str, Any], key: str, label: str) -> dict[str, Any]:
    value = find_key(parent, key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigurationError(f"host.json {label} must be a JSON object, not {json.dumps(value)}.")
    return value


def parse_time_span_s(value: str) -> float:
    """Seconds in a .NET TimeSpan string ``[d.]hh:mm[:ss[.fffffff]]`` or a plain number of seconds."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise ValueError(f"'{value}' is not a finite number of seconds")
        return number
    match = next((m for form in _TIME_SPAN_FORMS if (m := form.fullmatch(text))), None)
    if match is None:
        raise ValueError(f"'{value}' is not a time span")
    days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        raise ValueError(f"'{value}' has hours above 23 or minutes or seconds above 59")
    whole = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)
    return whole + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def validate_hub_name(name: str, source: str) -> None:
    """Raise ConfigurationError unless ``name`` is a valid hub name; ``source`` says where it came from."""
    if _HUB_NAME.fullmatch(name) and MIN_HUB_NAME_LENGTH <= len(name) <= MAX_HUB_NAME_LENGTH:
        return
    raise ConfigurationError(
        f"Task hub name '{name}' from {source} is invalid: it must contain only letters and digits, "
        f"start with a letter, and be {MIN_HUB_NAME_LENGTH} to {MAX_HUB_NAME_LENGTH} characters long."
    )


def sanitize_hub_name(name: str) -> str:
    """A valid hub name made from a site name, as Durable Functions does for ``WEBSITE_SITE_NAME``."""
    kept = "".join(c for c in name if c.isascii() and c.isalnum())
    if kept and kept[0].isdigit():
        kept = "t" + kept
    kept = kept[:MAX_HUB_NAME_LENGTH]
    if not kept:
        return DEFAULT_HUB_NAME
    return kept if len(kept) >= MIN_HUB_NAME_LENGTH else kept + "Hub"


def _hub_name(top: _Reader, settings: SettingsSource) -> tuple[str, str]:
    configured = top.raw_value("hubName")
    if configured is not None:
        source = f"host.json {top.label}.hubName"
        if isinstance(configured, str) and "%" in configured:
            source += f" ({configured})"
        name = top.text("", "hubName")
        validate_hub_name(name, source)
        return name, source
    site_name = settings.get(SITE_NAME_SETTING)
    if site_name:
        name = sanitize_hub_name(site_name)
        return name, f"app setting {SITE_NAME_SETTING}" + ("" if name == site_name else f" ('{site_name}')")
    return DEFAULT_HUB_NAME, "default"


def _app_name(settings: SettingsSource) -> str:
    """Names the app for its app lease: the site name on Azure, else the app's folder."""
    return settings.get(SITE_NAME_SETTING) or Path(getattr(settings, "script_root", ".")).resolve().name


def _lease_intervals(storage: _Reader) -> tuple[float, float, float]:
    """The worker lease's length (blob leases last 15 to 60 seconds), how often it is renewed, and how
    often the partition leases are listed. ``ownershipLeaseInterval`` (the reference's) is checked but
    unused: partition leases are held until handed over, and only the worker lease expires."""
    lease = storage.seconds("leaseInterval", 60, 60)
    ownership = storage.seconds("ownershipLeaseInterval", 15, 60)
    renew = storage.seconds("leaseRenewInterval", 20, None)
    acquire = storage.seconds("leaseAcquireInterval", 30, None)
    for key, value in (("leaseInterval", lease), ("ownershipLeaseInterval", ownership)):
        if value < 15:
            raise ConfigurationError(
                f"{storage.label}.{key} is {value:g} s; blob leases last 15 to 60 seconds."
            )
    if renew >= lease * 0.8:
        raise ConfigurationError(
            f"{storage.label}.leaseRenewInterval ({renew:g} s) must be under 80% of leaseInterval "
            f"({lease:g} s): a worker stops dequeuing when its lease is that close to expiring unrenewed."
        )
    if acquire <= 0:
        raise ConfigurationError(f"{storage.label}.leaseAcquireInterval must be more than 0 s.")
    return lease, renew, acquire


def _storage_reader(top: _Reader) -> _Reader:
    """``storageProvider`` keys; 1.x apps put them directly in ``durableTask``, which is the fallback."""
    provider = _object(top.section, "storageProvider", f"{top.label}.storageProvider")
    if not provider:
        return top
    return _Reader(provider, f"{top.label}.storageProvider", top.settings, fallback=top)


class _Reader:
    """Typed, validated reads of one host.json object; errors name the key and the value."""

    def __init__(
        self, section: dict[str, Any], label: str, settings: SettingsSource, fallback: _Reader | None = None
    ) -> None:
        self.section = section
        self.label = label
        self.settings = settings
        self.fallback = fallback

    def raw_value(self, key: str) -> Any:
        return find_key(self.section, key)

    def _lookup(self, keys: tuple[str, ...]) -> tuple[Any, str] | None:
        for key in keys:
            value = find_key(self.section, key)
            if value is not None:
                where = f"host.json {self.label}.{key}"
                return (self.settings.resolve(value, where) if isinstance(value, str) else value), where
        return self.fallback._lookup(keys) if self.fallback is not None else None

    def text(self, default: str, *keys: str) -> str:
        found = self._lookup(keys)
        if found is None:
            return default
        value, where = found
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{where} is {json.dumps(value)}; it must be a non-empty string.")
        return value.strip()

    def integer(self, key: str, default: int, low: int, high: int | None) -> int:
        found = self._lookup((key,))
        if found is None:
            return default
        value, where = found
        number = _as_int(value)
        if number is None or number < low or (high is not None and number > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ConfigurationError(
                f"{where} is {json.dumps(value)}; it must be a whole number {bound}. Fix it in host.json."
            )
        return number

    def seconds(self, key: str, default: float, high_s: float | None) -> float:
        found = self._lookup((key,))
        if found is None:
            return default
        value, where = found
        seconds = _as_seconds(value)
        if seconds is None or seconds <= 0 or (high_s is not None and seconds > high_s):
            limit = f" and at most {_format_span(high_s)}" if high_s is not None else ""
            raise ConfigurationError(
                f"{where} is {json.dumps(value)}; it must be a time span greater than zero{limit}, "
                'written as "hh:mm:ss" (e.g. "00:00:30", "1.00:00:00", "00:00:00.500") or seconds.'
            )
        return seconds

    def boolean(self, key: str, default: bool) -> bool:
        found = self._lookup((key,))
        if found is None:
            return default
        value, where = found
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ConfigurationError(f"{where} is {json.dumps(value)}; it must be true or false.")


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def _as_seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_time_span_s(value)
        except ValueError:
            return None
    return None


def _format_span(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}.{hours:02}:{minutes:02}:{secs:02}" if days else f"{hours:02}:{minutes:02}:{secs:02}"
