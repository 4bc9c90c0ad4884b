"""The ``blobTrigger`` binding: a function run once for each new or changed blob matching its path.

How it works, as in the Functions host: a scanner per watched container (:mod:`blob_scanner`) finds new
blob versions and, guarded by receipts (:mod:`blob_receipts`), puts one message per version and
function on the host queue ``azure-webjobs-blobtrigger-{hostId}``. Every worker of the app listens to
that queue (the queue listener of the queue trigger), so the work is shared, a function that fails is
tried again, and after ``poisonBlobThreshold`` attempts the message goes to ``webjobs-blobtrigger-poison``.
A worker that stops half way leaves its message to come back to another one. A message whose blob is
gone, or has changed since (the newer version has a message of its own), is dropped.

The function's argument is what the Python worker gives: a ``func.InputStream`` (``name`` =
``container/blob``, ``length``, ``uri``, ``blob_properties``, ``metadata``), or the raw content for a
parameter annotated ``str`` or ``bytes``, text unless ``dataType: binary``. Binding data for the other
bindings: ``BlobTrigger``, ``Uri``, ``Properties``, ``Metadata``, the path's ``{name}`` captures and, for
a blob holding a JSON object, its top-level properties.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from azure.storage.queue.aio import QueueServiceClient

from bindings.base import FunctionInfo, FunctionInvoker, InvocationContext, data_type_of
from bindings.conversion import annotation_of, decode_argument
from durable_ext.errors import ConfigurationError

from .accounts import DEFAULT_CONNECTION, StorageAccounts, connection_setting
from .blob_data import blob_binding_data, content_datum, read_blob
from .blob_options import BlobsOptions, blobs_options
from .blob_paths import BlobPattern, configured_path
from .blob_receipts import HOSTS_CONTAINER, BlobReceipts, function_id
from .blob_scan_info import ScanInfo
from .blob_scanner import ContainerScanner
from .blob_trigger_messages import POISON_QUEUE, BlobTriggerMessage, host_queue_name
from .blob_watch import PROCESS_BLOB_WATCH, BlobWatch, account_key
from .queue_listener import QueueListener, ReceivedQueueMessage
from .queue_messages import encode_body, send_creating_queue
from .queue_trigger import add_body_properties, metadata_datum
from .queue_watch import PROCESS_QUEUE_WATCH

if TYPE_CHECKING:
    from collections.abc import Callable

    from bindings.catalog import Settings

log = logging.getLogger("durable_ext.blob_trigger")

BINDING_TYPE = "blobTrigger"
SUPPORTED_SOURCE = "LogsAndContainerScan"


@dataclass
class BlobTriggerFunction:
    """One blob-triggered function as the shared machinery runs it."""

    function: FunctionInfo
    pattern: BlobPattern
    connection: str
    binary: bool
    invoker: FunctionInvoker
    annotation: Any = None
    """The trigger parameter's annotation (what the argument is decoded to)."""

    @property
    def id(self) -> str:
        return function_id(self.function.name)


class BlobTriggers:
    """The blob triggers of this process: one scanner per watched container, one host-queue listener."""

    def __init__(
        self,
        accounts: StorageAccounts,
        host_id: str,
        options: BlobsOptions,
        watch: BlobWatch = PROCESS_BLOB_WATCH,
    ) -> None:
        self._accounts = accounts
        self._host_id = host_id
        self._options = options
        self._watch = watch
        self._functions: dict[str, BlobTriggerFunction] = {}
        self._scanners: dict[tuple[str, str], ContainerScanner] = {}
        self._unwatch: dict[tuple[str, str], Callable[[], None]] = {}
        self._listener: QueueListener | None = None

    def _host_queues(self) -> QueueServiceClient:
        return self._accounts.clients(DEFAULT_CONNECTION, "blob triggers").queues

    async def add(self, entry: BlobTriggerFunction) -> None:
        self._functions[entry.id] = entry
        blobs = self._accounts.clients(entry.connection, entry.function.name).blobs
        key = (account_key(blobs), entry.pattern.container)
        scanner = self._scanners.get(key)
        if scanner is None:
            hosts = self._accounts.clients(DEFAULT_CONNECTION, entry.function.name).blobs
            scanner = self._scanners[key] = ContainerScanner(
                blobs=blobs,
                container=entry.pattern.container,
                scan_info=ScanInfo(hosts, self._host_id, str(blobs.account_name), entry.pattern.container),
                receipts=BlobReceipts(hosts.get_container_client(HOSTS_CONTAINER), self._host_id),
                enqueue=self._enqueue,
                interval_s=self._options.scan_interval_s,
            )
            self._unwatch[key] = self._watch.watch(blobs, entry.pattern.container, scanner.written)
            scanner.start()
        scanner.add(entry.id, entry.pattern)
        if self._listener is None:
            self._listener = QueueListener(
                queues=self._host_queues(),
                queue_name=host_queue_name(self._host_id),
                poison_queue_name=POISON_QUEUE,
                options=self._options.queue_options(),
                handler=self._run,
                owner="The blob trigger",
            )
            await self._listener.start()

    async def remove(self, entry: BlobTriggerFunction) -> None:
        self._functions.pop(entry.id, None)
        for key, scanner in list(self._scanners.items()):
            if scanner.remove(entry.id):
                self._unwatch.pop(key)()
                del self._scanners[key]
                await scanner.stop()
        if not self._functions and self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.stop()

    async def _enqueue(self, message: BlobTriggerMessage) -> None:
        queues = self._host_queues()
        name = host_queue_name(self._host_id)
        await send_creating_queue(queues.get_queue_client(name), encode_body(message.to_json(), "base64"))
        PROCESS_QUEUE_WATCH.notify(queues, name)

    async def _run(self, received: ReceivedQueueMessage) -> None:
        """Run the function a host-queue message names; raising makes the listener retry it."""
        try:
            message = BlobTriggerMessage.from_json(received.body)
        except ValueError as exc:
            log.warning("Dropping message %s of the blob trigger queue: %s.", received.id, exc)
            return
        entry = self._functions.get(message.function_id)
        if entry is None:
            log.info(
                "Dropping a blob trigger message for %s, which this app does not have.", message.function_id
            )
            return
        clients = self._accounts.clients(entry.connection, entry.function.name)
        found = await read_blob(clients.blobs, message.path, message.etag)
        if found is None:  # deleted, or a newer version (which has a message of its own)
            scanner = self._scanners.get((account_key(clients.blobs), entry.pattern.container))
            if scanner is not None:
                scanner.written(message.blob_name)
            return
        content, props, uri = found
        try:
            await self._invoke(entry, message, content, props, uri)
        except Exception as exc:
            attempts = self._options.poison_blob_threshold
            log.warning(
                "Function '%s' failed for blob '%s' (attempt %d of %d): %s: %s",
                entry.function.name,
                message.path,
                received.dequeue_count,
                attempts,
                type(exc).__name__,
                exc,
            )
            if received.dequeue_count >= attempts and account_key(clients.blobs) != account_key(
                self._accounts.clients(DEFAULT_CONNECTION, entry.function.name).blobs
            ):
                await self._to_blob_account_poison(clients.queues, message)
                return
            raise

    async def _invoke(
        self, entry: BlobTriggerFunction, message: BlobTriggerMessage, content: bytes, props: Any, uri: str
    ) -> None:
        pattern_data = entry.pattern.match(message.container, message.blob_name) or {}
        data = {**blob_binding_data(message.path, uri, props), **pattern_data}
        if not entry.binary:
            add_body_properties(data, content.decode("utf-8", "replace"))
        metadata = {key: metadata_datum(value) for key, value in data.items()}
        argument = decode_argument(
            BINDING_TYPE, entry.annotation, content_datum(content, entry.binary), metadata
        )
        invocation = InvocationContext(str(uuid.uuid4()), entry.function.name, binding_data=data)
        await entry.invoker.invoke(argument, invocation)

    async def _to_blob_account_poison(self, queues: QueueServiceClient, message: BlobTriggerMessage) -> None:
        log.warning(
            "Blob '%s' failed %d times; moving its message to queue '%s'.",
            message.path,
            self._options.poison_blob_threshold,
            POISON_QUEUE,
        )
        await send_creating_queue(
            queues.get_queue_client(POISON_QUEUE), encode_body(message.to_json(), "base64")
        )


class BlobTriggerListener:
    def __init__(self, triggers: BlobTriggers, entry: BlobTriggerFunction) -> None:
        self._triggers = triggers
        self._entry = entry

    async def start(self) -> None:
        await self._triggers.add(self._entry)

    async def stop(self) -> None:
        await self._triggers.remove(self._entry)


class BlobTriggerBinding:
    def __init__(
        self, function: FunctionInfo, pattern: BlobPattern, connection: str, triggers: BlobTriggers
    ) -> None:
        self.function = function
        self.pattern = pattern
        self._connection = connection
        self._triggers = triggers

    def create_listener(self, invoker: FunctionInvoker) -> BlobTriggerListener:
        binary = data_type_of(self.function.trigger) in ("binary", "stream")
        annotation = annotation_of(self.function, str(self.function.trigger.get("name")))
        entry = BlobTriggerFunction(
            self.function, self.pattern, self._connection, binary, invoker, annotation
        )
        return BlobTriggerListener(self._triggers, entry)


class BlobTriggerBindingProvider:
    binding_type = BINDING_TYPE

    def __init__(self, accounts: StorageAccounts, settings: Settings, host_id: str) -> None:
        self._accounts = accounts
        self._settings = settings
        self._host_id = host_id
        self._triggers: BlobTriggers | None = None

    def _shared(self) -> BlobTriggers:
        if self._triggers is None:
            self._triggers = BlobTriggers(self._accounts, self._host_id, blobs_options(self._settings))
        return self._triggers

    def create_trigger(self, function: FunctionInfo) -> BlobTriggerBinding:
        trigger = function.trigger
        source = str(trigger.get("source") or SUPPORTED_SOURCE)
        if source.lower() != SUPPORTED_SOURCE.lower():
            raise ConfigurationError(
                f"Function '{function.name}', blob trigger '{trigger.get('name')}' has source '{source}'; "
                f"this host finds blobs by scanning containers only. Remove source (or set it to "
                f"'{SUPPORTED_SOURCE}')."
            )
        path, where = configured_path(function, trigger, self._settings)
        pattern = BlobPattern.parse(path, where)
        connection = connection_setting(trigger)
        self._accounts.check(connection, function.name)
        self._accounts.check(DEFAULT_CONNECTION, function.name)
        return BlobTriggerBinding(function, pattern, connection, self._shared())
