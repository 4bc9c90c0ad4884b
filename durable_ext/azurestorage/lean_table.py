"""Table Insert, Merge, Update and Query Entities and entity group transactions on the lean path.

The requests are the tables SDK's (same URLs, headers, entity JSON from its own serializer, service
version); query answers become ``TableEntity`` objects through the SDK's own deserializer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from azure.data.tables import TableEntity
from azure.data.tables._deserialize import _convert_to_entity
from azure.data.tables._serialize import _parameter_filter_substitution

from .entity_json import entity_properties
from .http1_client import Origin
from .lean_errors import raise_table_error
from .lean_http import Answer, LeanStorage, lean_of, path_segment, query_string

API_VERSION = "2019-02-02"
JSON_NO_METADATA = "application/json;odata=nometadata"
JSON_MINIMAL_METADATA = "application/json;odata=minimalmetadata"


def entity_path(table: str, partition_key: str, row_key: str) -> str:
    keys = (path_segment(str(key).replace("'", "''")) for key in (partition_key, row_key))
    return f"/{table}(PartitionKey='{next(keys)}',RowKey='{next(keys)}')"


class LeanTable:
    """One table's hot operations."""

    def __init__(self, lean: LeanStorage, account_url: str, table: str) -> None:
        self.lean = lean
        self.origin, self.path = Origin.split(account_url)
        self.table = table

    async def _send(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "",
        accept: str = "application/json",
        query: str = "",
        extra: dict[str, str] | None = None,
    ) -> Answer:
        resource = self.path + path
        target = f"{resource}?{query}" if query else resource
        headers = {"x-ms-version": API_VERSION, "DataServiceVersion": "3.0", "Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        if extra:
            headers |= extra
        key = self.lean.key

        def sign(headers: dict[str, str]) -> None:
            date = key.date()
            headers["x-ms-date"] = headers["Date"] = date
            headers["Authorization"] = key.table_authorization(method, resource, content_type, date)

        return await self.lean.send(
            f"table.{operation}", method, self.origin, target, headers, body, sign, self.lean.table_retries
        )

    async def insert(self, entity: dict[str, Any]) -> str:
        """Insert Entity; its ETag. ``ResourceExistsError`` (409) when the row exists."""
        body = json.dumps(entity_properties(entity)).encode()
        answer = await self._send(
            "write",
            "POST",
            f"/{self.table}",
            body=body,
            content_type=JSON_NO_METADATA,
            accept=JSON_MINIMAL_METADATA,
        )
        if answer.status != 201:
            await raise_table_error(answer, "POST", self.table, inserting=True)
        return str(answer.headers.get("ETag", ""))

    async def write(self, entity: dict[str, Any], *, merge: bool, etag: str | None = None) -> str:
        """Merge (``merge``) or replace the row, inserting it when ``etag`` is ``None`` (Insert Or
        Merge/Replace), else only if it still has ``etag`` (412 ``ResourceModifiedError`` if not,
        404 ``ResourceNotFoundError`` if it is gone); the new ETag."""
        method = "PATCH" if merge else "PUT"
        body = json.dumps(entity_properties(entity)).encode()
        path = entity_path(self.table, entity["PartitionKey"], entity["RowKey"])
        answer = await self._send(
            "write",
            method,
            path,
            body=body,
            content_type=JSON_NO_METADATA,
            extra=None if etag is None else {"If-Match": etag},
        )
        if answer.status != 204:
            await raise_table_error(answer, method, self.table)
        return str(answer.headers.get("ETag", ""))

    async def transaction(self, content_type: str, body: bytes) -> Answer:
        """One entity group transaction (``$batch``) with a multipart body (see ``table_batch``)."""
        extra = {"MaxDataServiceVersion": "3.0;NetFx"}
        return await self._send("batch", "POST", "/$batch", body=body, content_type=content_type, extra=extra)

    async def query(
        self,
        query_filter: str,
        parameters: dict[str, Any],
        select: Sequence[str] | None = None,
        per_page: int | None = None,
    ) -> AsyncIterator[TableEntity]:
        """Query Entities, page after page (of at most ``per_page``), as the SDK's ``query_entities``."""
        params = [("$filter", _parameter_filter_substitution(parameters, query_filter))]
        if select:
            params.append(("$select", ",".join(select)))
        if per_page is not None:
            params.append(("$top", str(per_page)))
        continuation: list[tuple[str, str]] = []
        while True:
            query = query_string(params + continuation)
            path = f"/{self.table}()"
            answer = await self._send("query", "GET", path, accept=JSON_MINIMAL_METADATA, query=query)
            if answer.status != 200:
                await raise_table_error(answer, "GET", self.table)
            for entry in json.loads(answer.body).get("value", []):
                yield _convert_to_entity(entry)
            next_pk = answer.headers.get("x-ms-continuation-NextPartitionKey")
            next_rk = answer.headers.get("x-ms-continuation-NextRowKey")
            if not next_pk and not next_rk:
                return
            continuation = [(n, v) for n, v in (("NextPartitionKey", next_pk), ("NextRowKey", next_rk)) if v]


def lean_table(client: object) -> LeanTable | None:
    """The lean path of an SDK ``TableClient`` made by :class:`StorageClients` (else ``None``)."""
    lean = lean_of(client)
    if lean is None:
        return None
    attributes = ("scheme", "_primary_hostname", "table_name")
    scheme, host, name = (getattr(client, attribute, None) for attribute in attributes)
    if not (isinstance(scheme, str) and isinstance(host, str) and isinstance(name, str)):
        return None
    return LeanTable(lean, f"{scheme}://{host}", name)
