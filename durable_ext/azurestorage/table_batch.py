"""Entity group transactions (the Table service's ``$batch``), written and read without ``email``.

The SDK's ``submit_transaction`` builds the multipart request and parses the multipart answer with the
standard library's ``email`` package; for the few rows of an episode's history commit, that is most of
the host's CPU time under load. This module writes the same request (same URLs, verbs, headers and
entity JSON, through the table client's own pipeline or the lean request path, so signing, retries
and the operation counter apply either way) and reads the status line and ETag of each answer part.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.data.tables.aio import TableClient

from .entity_json import entity_properties
from .lean_table import LeanTable

API_VERSION = "2019-02-02"
_STATUS = re.compile(rb"^HTTP/1\.1 (\d{3})", re.MULTILINE)
_BOUNDARY = re.compile(rb"(?:^|\r?\n)--[^\r\n]*")
_ETAG = re.compile(rb"^ETag: ?(.+?)\r?$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class BatchOperation:
    """``upsert`` (insert or replace), ``create``, ``merge`` (conditional on ``etag`` when given),
    ``replace`` (an existing row, conditional on ``etag``) or ``delete`` (``etag``, or ``*`` for any)."""

    kind: str
    entity: dict[str, Any]
    etag: str | None = None


class BatchOperationError(HttpResponseError):
    """An operation of the transaction failed (the whole transaction was rolled back)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message=message)
        self.status_code = status_code


def _entity_url(base: str, table: str, entity: dict[str, Any]) -> str:
    keys = (quote(str(entity[k]).replace("'", "''"), safe="") for k in ("PartitionKey", "RowKey"))
    return f"{base}/{table}(PartitionKey='{next(keys)}',RowKey='{next(keys)}')"


_VERBS = {"upsert": "PUT", "replace": "PUT", "merge": "PATCH", "delete": "DELETE"}


def _part(index: int, base: str, table: str, operation: BatchOperation) -> str:
    body = (
        ""
        if operation.kind == "delete"
        else json.dumps(entity_properties(operation.entity), separators=(",", ":"))
    )
    if operation.kind == "create":
        line, accept = f"POST {base}/{table} HTTP/1.1", "application/json;odata=minimalmetadata"
    else:
        verb = _VERBS[operation.kind]
        line, accept = f"{verb} {_entity_url(base, table, operation.entity)} HTTP/1.1", "application/json"
    headers = [
        "Content-Type: application/json",
        f"Content-Length: {len(body.encode())}",
        f"x-ms-version: {API_VERSION}",
        "DataServiceVersion: 3.0",
        f"Accept: {accept}",
    ]
    if operation.etag is not None or operation.kind == "delete":
        headers.append(f"If-Match: {operation.etag or '*'}")
    return (
        "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: {index}\r\n\r\n{line}\r\n" + "\r\n".join(headers) + f"\r\n\r\n{body}"
    )


def _body(base: str, table: str, operations: Sequence[BatchOperation]) -> tuple[str, bytes]:
    batch, changeset = f"batch_{uuid.uuid4()}", f"changeset_{uuid.uuid4()}"
    parts = "".join(f"--{changeset}\r\n{_part(i, base, table, op)}\r\n" for i, op in enumerate(operations))
    text = (
        f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
        f"{parts}--{changeset}--\r\n\r\n--{batch}--\r\n"
    )
    return f"multipart/mixed; boundary={batch}", text.encode()


def _error_message(part: bytes) -> str:
    start = part.find(b"{")
    try:
        error = json.loads(part[start:]) if start >= 0 else {}
        return str(error["odata.error"]["message"]["value"]).splitlines()[0]
    except (ValueError, KeyError, TypeError, IndexError):
        return part[:200].decode(errors="replace")


def _parse(response_body: bytes, expected: int) -> list[str]:
    """The ETag of each operation, or :class:`BatchOperationError` for the first one that failed."""
    parts = [
        p
        for p in re.split(rb"\r?\n--(?:changeset|batch)response_[^\r\n]*", response_body)
        if _STATUS.search(p)
    ]
    etags: list[str] = []
    for part in parts:
        status = int(_STATUS.search(part).group(1))  # type: ignore[union-attr]
        if status >= 300:
            raise BatchOperationError(status, _error_message(part))
        tag = _ETAG.search(part)
        etags.append(tag.group(1).decode() if tag else "")
    if len(etags) != expected:
        raise BatchOperationError(500, f"the transaction answered {len(etags)} of {expected} operations")
    return etags


async def submit(
    table: TableClient, operations: Sequence[BatchOperation], lean: LeanTable | None = None
) -> list[str]:
    """Run ``operations`` (one partition, at most 100) as one transaction; return their ETags.
    ``lean``: the table's lean request path, if it has one."""
    base = f"{table.scheme}://{table._primary_hostname}"
    content_type, body = _body(base, table.table_name, operations)
    if lean is not None:
        answer = await lean.transaction(content_type, body)
        return _answered(answer.status, answer.body, len(operations))
    request = HttpRequest(
        "POST",
        f"{base}/$batch",
        headers={
            "x-ms-version": API_VERSION,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": content_type,
            "Accept": "application/json",
        },
        content=body,
    )
    response = await table._client.send_request(request, stream=True)
    return _answered(response.status_code, await response.read(), len(operations))


def _answered(status: int, content: bytes, expected: int) -> list[str]:
    if status != 202:
        raise BatchOperationError(status, _error_message(content))
    return _parse(content, expected)
