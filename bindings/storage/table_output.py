"""The ``table`` output binding: entities a function writes, inserted once it has succeeded.

The value is one entity (a dict, or a string holding a JSON object) or several (a list, or a string
holding a JSON array), as the Functions host splits a collector's value. An entity's ``PartitionKey`` and
``RowKey`` come from its own properties of those names (any case), else from the binding's
``partitionKey`` and ``rowKey``. Every other property must be a JSON scalar: text is stored as a string,
a whole number as a 64-bit integer, any other number as a double, and booleans as they are; a null
property is left out, and dates stay text, as on Azure.

Entities are checked before any is written, then inserted as entity-group transactions of at most 100
entities of one partition (a RowKey met again in a partition starts a new transaction). Insert only, as
on Azure: an entity that already exists fails its transaction, which writes none of its entities, and the
invocation. A missing table is created.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import EdmType, EntityProperty
from azure.data.tables.aio import TableClient

from bindings.base import FunctionInfo, InvocationContext
from bindings.conversion import annotation_of, collector_items, encode_output
from durable_ext.azurestorage import table_batch
from durable_ext.azurestorage.clients import translated
from durable_ext.azurestorage.table_batch import BatchOperation, BatchOperationError
from durable_ext.errors import StorageError

from .accounts import StorageAccounts
from .table_binding import BINDING_TYPE, TableBindingSettings
from .table_names import check_key

if TYPE_CHECKING:
    from bindings.catalog import Settings

MAX_BATCH_SIZE = 100
"""The most operations the Table service takes in one entity-group transaction."""
_INT64 = (-(2**63), 2**63 - 1)
_FAILED_INDEX = re.compile(r"^(\d+):")

Entity = dict[str, Any]


class TableOutputBindingProvider:
    binding_type = BINDING_TYPE

    def __init__(self, accounts: StorageAccounts, settings: Settings) -> None:
        self._accounts = accounts
        self._settings = settings

    def create_output(self, function: FunctionInfo, binding: dict[str, Any]) -> TableOutputBinding:
        settings = TableBindingSettings.from_binding(function, binding, self._settings, self._accounts)
        return TableOutputBinding(settings, self._accounts, annotation_of(function, settings.binding_name))


class TableOutputBinding:
    def __init__(self, settings: TableBindingSettings, accounts: StorageAccounts, annotation: Any) -> None:
        self.settings = settings
        self.parameter_name = settings.binding_name
        self._accounts = accounts
        self._annotation = annotation

    async def write(self, value: Any, invocation: InvocationContext) -> None:
        if value is None:
            return
        entities = self.entities(value, invocation)
        if not entities:
            return
        table = self.settings.table(self._accounts, invocation)
        for batch in batches(entities):
            await self._insert(table, batch)

    def entities(self, value: Any, invocation: InvocationContext) -> list[Entity]:
        """The entities ``value`` gives, keys filled in and checked, properties converted."""
        partition_key = self.settings.resolve(self.settings.partition_key, invocation)
        row_key = self.settings.resolve(self.settings.row_key, invocation)
        items = collector_items(encode_output(BINDING_TYPE, self._annotation, value))
        return [
            to_entity(item, partition_key, row_key, where=f"{self.settings.where}, entity {i + 1}")
            for i, item in enumerate(items)
        ]

    async def _insert(self, table: TableClient, batch: list[Entity]) -> None:
        operations = [BatchOperation("create", entity) for entity in batch]
        what = f"Writing {len(batch)} entities to table '{table.table_name}' for {self.settings.where}"
        async with translated(what):
            try:
                await table_batch.submit(table, operations)
            except BatchOperationError as exc:
                if exc.status_code != 404:
                    raise self._refused(table, batch, exc) from exc
                await _create_table(table)
                try:
                    await table_batch.submit(table, operations)
                except BatchOperationError as again:
                    raise self._refused(table, batch, again) from again

    def _refused(self, table: TableClient, batch: list[Entity], exc: BatchOperationError) -> Exception:
        if exc.status_code != 409:
            return exc
        reason = str(exc.message or exc)
        failed = _FAILED_INDEX.match(reason)
        entity = batch[int(failed.group(1))] if failed and int(failed.group(1)) < len(batch) else None
        which = (
            f"the entity with PartitionKey '{entity['PartitionKey']}' and RowKey '{entity['RowKey']}'"
            if entity is not None
            else "an entity of the batch"
        )
        return StorageError(
            f"In {self.settings.where}, {which} already exists in table '{table.table_name}' ({reason}). A "
            f"table output only inserts new entities, so none of the {len(batch)} entities of this "
            f"transaction (partition '{batch[0]['PartitionKey']}') was written. Give each entity a new "
            "RowKey, or update existing entities with the azure-data-tables SDK."
        )


async def _create_table(table: TableClient) -> None:
    with contextlib.suppress(ResourceExistsError):
        await table.create_table()


def to_entity(item: Any, partition_key: str | None, row_key: str | None, *, where: str) -> Entity:
    """One output item as a table entity; ValueError (naming ``where`` and the property) if it cannot be."""
    properties = dict(_as_object(item, where))
    entity: Entity = {
        "PartitionKey": check_key(_take_key(properties, "PartitionKey", partition_key, where), where=where),
        "RowKey": check_key(_take_key(properties, "RowKey", row_key, where), where=where),
    }
    for name, value in properties.items():
        converted = _property(name, value, where)
        if converted is not None:
            entity[name] = converted
    return entity


def _as_object(item: Any, where: str) -> dict[str, Any]:
    if isinstance(item, str | bytes | bytearray):
        with contextlib.suppress(ValueError):
            item = json.loads(item)
    if not isinstance(item, dict):
        raise ValueError(
            f"{where} is a {type(item).__name__}, not a JSON object. Write a dict (or a list of dicts, or "
            "their JSON text) to a table output."
        )
    return item


def _take_key(properties: dict[str, Any], key: str, default: str | None, where: str) -> str | None:
    """The item's own ``key`` (any case), removed from ``properties``; else the binding's."""
    names = [name for name in properties if str(name).lower() == key.lower()]
    if len(names) > 1:
        raise ValueError(f"{where} has {len(names)} properties named {key} ({', '.join(names)}); keep one.")
    if not names:
        return default
    value = properties.pop(names[0])
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValueError(f"{where} has a {key} of type {type(value).__name__}; a {key} must be a string.")
    return value


def _property(name: str, value: Any, where: str) -> Any:
    """A property value as stored: str, bool, double, or a 64-bit integer; None leaves it out."""
    if value is None or isinstance(value, str | bool | float):
        return value
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise ValueError(
                f"The property '{name}' of {where} is {value}, outside the 64-bit integer range a table "
                "stores. Store it as a string instead."
            )
        return EntityProperty(value, EdmType.INT64)
    kind = (
        "a JSON object"
        if isinstance(value, dict)
        else "a JSON array"
        if isinstance(value, list)
        else (f"a {type(value).__name__}")
    )
    raise ValueError(
        f"The property '{name}' of {where} is {kind}; a table entity property must be a string, number, "
        "boolean or null. Store it as JSON text (json.dumps) instead."
    )


def batches(entities: list[Entity]) -> list[list[Entity]]:
    """Entity-group transactions for ``entities``: one partition each, at most 100, no RowKey twice.

    Transactions are in the order the Functions host flushes them: a full one or one closed by a repeated
    RowKey at once, the rest at the end in the order their partitions first appeared.
    """
    ready: list[list[Entity]] = []
    open_batches: dict[str, list[Entity]] = {}
    row_keys: dict[str, set[str]] = {}
    for entity in entities:
        partition, row = entity["PartitionKey"], entity["RowKey"]
        if row in row_keys.get(partition, ()):
            ready.append(open_batches.pop(partition))
            del row_keys[partition]
        open_batches.setdefault(partition, []).append(entity)
        row_keys.setdefault(partition, set()).add(row)
        if len(open_batches[partition]) >= MAX_BATCH_SIZE:
            ready.append(open_batches.pop(partition))
            del row_keys[partition]
    ready.extend(open_batches.values())
    return ready
