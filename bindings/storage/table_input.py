"""The ``table`` input binding: one entity, or the result of a query, read before the function runs.

With both ``partitionKey`` and ``rowKey`` the function gets that entity as a JSON object string, or None
when the table or the entity does not exist. Otherwise it gets a JSON array string of the entities that
match ``PartitionKey eq '<partitionKey>'`` (when set) joined by ``and`` to ``filter`` (when set), at most
``take`` of them (``take`` <= 0 means all); a missing table gives ``[]``. As on Azure, the Python
function receives a ``str`` (the worker's generic binding) and calls ``json.loads`` itself.

An entity's JSON holds ``PartitionKey``, ``RowKey`` and its own properties (not ``Timestamp`` or the
ETag), each a JSON value: numbers, booleans and strings as they are, dates as ISO 8601 UTC text, binary
values as base64 text, GUIDs as text, and the doubles NaN and infinities as ``"NaN"``, ``"Infinity"``,
``"-Infinity"``.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import EntityProperty
from azure.data.tables.aio import TableClient

from bindings import expressions
from bindings.base import FunctionInfo, InvocationContext, data_type_of
from bindings.conversion import Datum, annotation_of, decode_argument
from durable_ext.azurestorage.clients import translated
from durable_ext.errors import ConfigurationError

from .accounts import StorageAccounts
from .table_binding import BINDING_TYPE, TableBindingSettings
from .table_filter import resolve_filter
from .table_names import odata_string

if TYPE_CHECKING:
    from bindings.catalog import Settings

MAX_PAGE_SIZE = 1000
"""The most entities the Table service returns in one page."""


class TableInputBindingProvider:
    binding_type = BINDING_TYPE

    def __init__(self, accounts: StorageAccounts, settings: Settings) -> None:
        self._accounts = accounts
        self._settings = settings

    def create_input(self, function: FunctionInfo, binding: dict[str, Any]) -> TableInputBinding:
        settings = TableBindingSettings.from_binding(function, binding, self._settings, self._accounts)
        where = f"function '{function.name}' table binding '{settings.binding_name}'"
        raw_filter = binding.get("filter")
        query_filter = self._settings.resolve(str(raw_filter), f"{where} filter") if raw_filter else None
        if query_filter is not None:
            expressions.parse(query_filter)  # reports a malformed template at load
        annotation = annotation_of(function, settings.binding_name)
        return TableInputBinding(
            settings=settings,
            query_filter=query_filter,
            take=_take(binding.get("take"), self._settings, where),
            accounts=self._accounts,
            as_bytes=data_type_of(binding) == "binary",
            annotation=annotation,
        )


def _take(raw: Any, settings: Settings, where: str) -> int:
    if raw is None or raw == "":
        return 0
    text = settings.resolve(str(raw), f"{where} take")
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(
            f"The take of {where} is '{text}', not a whole number. Set take to the most entities to read "
            "(0 or less for all)."
        ) from None


class TableInputBinding:
    def __init__(
        self,
        *,
        settings: TableBindingSettings,
        query_filter: str | None,
        take: int,
        accounts: StorageAccounts,
        as_bytes: bool,
        annotation: Any,
    ) -> None:
        self.settings = settings
        self.parameter_name = settings.binding_name
        self.query_filter = query_filter
        self.take = take
        self._accounts = accounts
        self._as_bytes = as_bytes
        self._annotation = annotation

    async def value(self, invocation: InvocationContext) -> Any:
        text = await self.read(invocation)
        if text is None:
            datum = None
        elif self._as_bytes:
            datum = Datum(text.encode(), "bytes")
        else:
            datum = Datum(text, "json")
        return decode_argument(BINDING_TYPE, self._annotation, datum)

    async def read(self, invocation: InvocationContext) -> str | None:
        """The JSON text the function gets: one entity (None if missing) or an array of them."""
        partition_key = self.settings.resolve(self.settings.partition_key, invocation)
        row_key = self.settings.resolve(self.settings.row_key, invocation)
        table = self.settings.table(self._accounts, invocation)
        async with translated(f"Reading table '{table.table_name}' for {self.settings.where}"):
            if partition_key is not None and row_key is not None:
                entity = await _entity(table, partition_key, row_key)
                return None if entity is None else json.dumps(entity_json(entity))
            query = query_text(partition_key, self._filter(invocation))
            return json.dumps([entity_json(e) for e in await _query(table, query, self.take)])

    def _filter(self, invocation: InvocationContext) -> str | None:
        if self.query_filter is None:
            return None
        return resolve_filter(self.query_filter, invocation.binding_data) or None


def query_text(partition_key: str | None, query_filter: str | None) -> str | None:
    """The OData filter of a query: the partition predicate and the binding's filter, as the host joins them.

    The two are joined by ``and`` without parentheses, as on Azure; put parentheses around a filter that
    uses ``or``.
    """
    if not partition_key:
        return query_filter
    predicate = f"PartitionKey eq {odata_string(partition_key)}"
    return f"{predicate} and {query_filter}" if query_filter else predicate


async def _entity(table: TableClient, partition_key: str, row_key: str) -> Mapping[str, Any] | None:
    try:
        return await table.get_entity(partition_key, row_key)
    except ResourceNotFoundError:
        return None


async def _query(table: TableClient, query: str | None, take: int) -> list[Mapping[str, Any]]:
    page_size = min(take, MAX_PAGE_SIZE) if take > 0 else None
    pages = (
        table.query_entities(query, results_per_page=page_size)
        if query
        else table.list_entities(results_per_page=page_size)
    )
    found: list[Mapping[str, Any]] = []
    try:
        async for entity in pages:
            found.append(entity)
            if take > 0 and len(found) >= take:
                break
    except ResourceNotFoundError:
        return []
    return found


def entity_json(entity: Mapping[str, Any]) -> dict[str, Any]:
    """An entity as the JSON object the function gets: the keys first, then every property as JSON."""
    body: dict[str, Any] = {}
    for key in ("PartitionKey", "RowKey"):
        if key in entity:
            body[key] = entity[key]
    for key, value in entity.items():
        if key not in body:
            body[key] = json_value(value)
    return body


def json_value(value: Any) -> Any:
    """One property value of a read entity as a JSON value."""
    if isinstance(value, EntityProperty):
        return json_value(value.value)
    if isinstance(value, datetime):
        service_text = getattr(value, "tables_service_value", "")
        if service_text:
            return str(service_text)
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
