"""The ``queueTrigger`` binding: a function run for each message of a storage queue.

The function's argument is what the Python worker gives it: a ``func.QueueMessage`` (built by
``azure.functions``' own converter from the body and the trigger metadata the Functions host sends), or,
for a parameter annotated ``str`` or ``bytes``, the raw body: text by default, bytes with ``dataType:
binary``. The trigger metadata (``QueueTrigger``, ``Id``, ``DequeueCount``, ``ExpirationTime``,
``InsertionTime``, ``NextVisibleTime``, ``PopReceipt``), plus the top-level properties of a JSON object
body, are the binding data other bindings of the function resolve ``{name}`` against. As in the
Functions host, a body property overrides metadata of the same name (case-insensitive): a body
``{"id": "x"}`` makes ``msg.id`` ``"x"``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bindings.base import FunctionInfo, FunctionInvoker, InvocationContext, data_type_of
from bindings.conversion import Datum, annotation_of, decode_argument
from durable_ext.errors import ConfigurationError

from .accounts import StorageAccounts, connection_setting
from .queue_listener import QueueListener, ReceivedQueueMessage
from .queue_messages import body_text
from .queue_names import normalize_queue_name, poison_queue_name
from .queue_options import QueuesOptions, queues_options

if TYPE_CHECKING:
    from bindings.catalog import Settings

BINDING_TYPE = "queueTrigger"
NEVER = datetime.max.replace(tzinfo=UTC)
"""``DateTimeOffset.MaxValue``: the host's expiration and next-visible time when the service gave none."""


def configured_queue_name(function: FunctionInfo, binding: dict[str, Any], settings: Settings) -> str:
    """The binding's ``queueName`` with ``%Setting%`` resolved (not yet lower-cased or checked)."""
    raw = binding.get("queueName")
    name = str(binding.get("name"))
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError(
            f"Function '{function.name}', binding '{name}' ({binding.get('type')}) has no queueName. Set "
            "queue_name in the decorator (queueName in function.json)."
        )
    return settings.resolve(raw, f"function '{function.name}' binding '{name}' queueName")


class QueueTriggerBindingProvider:
    binding_type = BINDING_TYPE

    def __init__(self, accounts: StorageAccounts, settings: Settings) -> None:
        self._accounts = accounts
        self._settings = settings

    def create_trigger(self, function: FunctionInfo) -> QueueTriggerBinding:
        trigger = function.trigger
        name = str(trigger.get("name"))
        queue_name = normalize_queue_name(
            configured_queue_name(function, trigger, self._settings),
            function_name=function.name,
            binding_name=name,
        )
        connection = connection_setting(trigger)
        self._accounts.check(connection, function.name)
        return QueueTriggerBinding(
            function=function,
            queue_name=queue_name,
            connection=connection,
            options=queues_options(self._settings),
            accounts=self._accounts,
            binary=data_type_of(trigger) in ("binary", "stream"),
        )


class QueueTriggerBinding:
    def __init__(
        self,
        *,
        function: FunctionInfo,
        queue_name: str,
        connection: str,
        options: QueuesOptions,
        accounts: StorageAccounts,
        binary: bool,
    ) -> None:
        self.function = function
        self.queue_name = queue_name
        self.connection = connection
        self.options = options
        self._accounts = accounts
        self._binary = binary
        self._annotation = annotation_of(function, str(function.trigger.get("name")))

    def create_listener(self, invoker: FunctionInvoker) -> QueueListener:
        clients = self._accounts.clients(self.connection, self.function.name)

        async def run(message: ReceivedQueueMessage) -> None:
            datum, metadata, binding_data = trigger_data(message, binary=self._binary)
            argument = decode_argument(BINDING_TYPE, self._annotation, datum, metadata)
            invocation = InvocationContext(str(uuid.uuid4()), self.function.name, binding_data=binding_data)
            await invoker.invoke(argument, invocation)

        return QueueListener(
            queues=clients.queues,
            queue_name=self.queue_name,
            poison_queue_name=poison_queue_name(self.queue_name),
            options=self.options,
            handler=run,
            owner=f"Function '{self.function.name}'",
        )


def trigger_data(
    message: ReceivedQueueMessage, *, binary: bool, now: datetime | None = None
) -> tuple[Datum, dict[str, Datum], dict[str, Any]]:
    """The trigger value, the trigger metadata and the binding data the host makes of ``message``."""
    text = body_text(message.body)
    datum = (
        Datum(message.body, "bytes")
        if binary
        else Datum(text if text is not None else message.body.decode("utf-8", "replace"), "string")
    )
    data: dict[str, Any] = {
        "QueueTrigger": text,
        "DequeueCount": message.dequeue_count,
        "ExpirationTime": _utc(message.expires_on) or NEVER,
        "Id": message.id,
        "InsertionTime": _utc(message.inserted_on) or now or datetime.now(UTC),
        "NextVisibleTime": _utc(message.next_visible_on) or NEVER,
        "PopReceipt": message.pop_receipt,
    }
    if text is not None:
        add_body_properties(data, text)
    binding_data = {key: value for key, value in data.items() if value is not None}
    metadata = {key: metadata_datum(value) for key, value in binding_data.items()}
    return datum, metadata, binding_data


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def add_body_properties(data: dict[str, Any], text: str) -> None:
    """The top-level properties of a JSON object body, over the metadata of the same name (any case)."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return
    if not isinstance(parsed, dict):
        return
    for key, value in parsed.items():
        if isinstance(value, list) or value is None:
            continue
        existing = next((k for k in data if k.lower() == str(key).lower()), str(key))
        data[existing] = value if isinstance(value, dict) else _scalar_text(value)


def _scalar_text(value: Any) -> str:
    """A JSON scalar as the host's binding data holds it: its text (.NET ``JValue.ToString()``)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def metadata_datum(value: Any) -> Datum:
    """One binding-data value as the host sends it to the worker: strings as strings, the rest as JSON."""
    if isinstance(value, str):
        return Datum(value, "string")
    if isinstance(value, datetime):
        return Datum(json.dumps(value.isoformat()), "json")
    return Datum(json.dumps(value, separators=(",", ":")), "json")
