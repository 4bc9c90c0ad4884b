"""The ``queue`` output binding: messages a function writes to a storage queue once it has succeeded.

The value becomes one message or several, as the Functions host splits a collector's value: a list (or a
string holding a JSON array) gives one message per element, a dict (or a string holding a JSON object)
one message of its JSON, ``str`` and ``bytes`` one message as they are. A ``func.QueueMessage`` gives a
message of its body. ``queueName`` may hold ``%Setting%`` references (resolved at load) and binding
expressions such as ``{queueTrigger}`` or ``{rand-guid}`` (resolved per invocation); the name is then
lower-cased and checked. A missing queue is created. Each write wakes this process's listener of that
queue at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import azure.functions as func

from bindings import expressions
from bindings.base import RETURN_NAME, FunctionInfo, InvocationContext
from bindings.conversion import Datum, annotation_of, collector_items, encode_output, generic_datum, item_text

from .accounts import StorageAccounts, connection_setting
from .queue_messages import encode_body, send_creating_queue
from .queue_names import normalize_queue_name
from .queue_options import queues_options
from .queue_trigger import configured_queue_name
from .queue_watch import PROCESS_QUEUE_WATCH, QueueWatch

if TYPE_CHECKING:
    from bindings.catalog import Settings

BINDING_TYPE = "queue"


class QueueOutputBindingProvider:
    binding_type = BINDING_TYPE

    def __init__(
        self, accounts: StorageAccounts, settings: Settings, watch: QueueWatch = PROCESS_QUEUE_WATCH
    ) -> None:
        self._accounts = accounts
        self._settings = settings
        self._watch = watch

    def create_output(self, function: FunctionInfo, binding: dict[str, Any]) -> QueueOutputBinding:
        name = str(binding.get("name"))
        template = configured_queue_name(function, binding, self._settings)
        static = not expressions.parameter_names(template)  # also reports a malformed template now
        if static:
            normalize_queue_name(template, function_name=function.name, binding_name=name)
        connection = connection_setting(binding)
        self._accounts.check(connection, function.name)
        return QueueOutputBinding(
            parameter_name=name,
            function=function,
            template=template,
            connection=connection,
            encoding=queues_options(self._settings).message_encoding,
            accounts=self._accounts,
            watch=self._watch,
        )


class QueueOutputBinding:
    def __init__(
        self,
        *,
        parameter_name: str,
        function: FunctionInfo,
        template: str,
        connection: str,
        encoding: str,
        accounts: StorageAccounts,
        watch: QueueWatch,
    ) -> None:
        self.parameter_name = parameter_name
        self.function = function
        self.template = template
        self.connection = connection
        self.encoding = encoding
        self._accounts = accounts
        self._watch = watch
        self._annotation = annotation_of(function, parameter_name)

    def queue_name(self, invocation: InvocationContext) -> str:
        """The queue this invocation writes to: the template resolved, lower-cased and checked."""
        return normalize_queue_name(
            expressions.resolve(self.template, invocation.binding_data),
            function_name=self.function.name,
            binding_name=self.parameter_name,
        )

    async def write(self, value: Any, invocation: InvocationContext) -> None:
        if value is None:
            # only a $return comes here with None; the worker fails to encode it, failing the invocation
            raise TypeError(
                f"Function '{self.function.name}' returned None to its {RETURN_NAME} queue output. Return "
                "the message to write, or use a func.Out parameter, which writes nothing when left unset."
            )
        texts = [encode_body(item, self.encoding) for item in self.messages(value)]
        queue_name = self.queue_name(invocation)
        clients = self._accounts.clients(self.connection, self.function.name)
        client = clients.queues.get_queue_client(queue_name)
        for text in texts:
            await send_creating_queue(client, text)
        self._watch.notify(clients.queues, queue_name)

    def messages(self, value: Any) -> list[str | bytes]:
        """The message bodies ``value`` gives, one per item."""
        if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
            return [_item_body(self.function.name, item) for item in value]
        items = collector_items(self._datum(value))
        return [_item_body(self.function.name, item) for item in items]

    def _datum(self, value: Any) -> Datum:
        if isinstance(value, func.QueueMessage):
            return Datum(value.get_body(), "bytes")
        if isinstance(value, str | bytes | bytearray):
            return encode_output(
                BINDING_TYPE, self._annotation, bytes(value) if isinstance(value, bytearray) else value
            )
        return generic_datum(value)


def _item_body(function_name: str, item: Any) -> str | bytes:
    if item is None:
        raise ValueError(
            f"Function '{function_name}' wrote a null item to a queue output: cannot enqueue a null queue "
            "message instance. Leave it out of the list."
        )
    if isinstance(item, func.QueueMessage):
        return item.get_body()
    if isinstance(item, bytearray):
        return bytes(item)
    return item_text(item)
