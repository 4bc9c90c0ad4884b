"""What a function receives for one blob: its content as the worker gets it, and its metadata.

The Functions host hands a blob to a Python function as text (UTF-8, invalid bytes replaced) unless the
binding says ``dataType: binary``; ``azure.functions``' ``BlobConverter`` makes a ``func.InputStream`` of
it, whose ``name``, ``length`` and ``uri`` come from the metadata: ``BlobTrigger`` (``container/blob``),
``Uri``, ``Properties`` (the blob's properties by their .NET names) and ``Metadata``.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobProperties
from azure.storage.blob.aio import BlobServiceClient

from bindings.conversion import Datum
from durable_ext.azurestorage.clients import translated

from .blob_paths import BlobPath

_BLOB_TYPES = {"BlockBlob": "Block", "PageBlob": "Page", "AppendBlob": "Append"}


def quoted_etag(etag: str) -> str:
    """An ETag in its quoted form (listings give it bare, property reads quoted)."""
    return etag if etag.startswith('"') else f'"{etag}"'


def blob_type_name(props: BlobProperties) -> str:
    """``BlockBlob``, ``PageBlob`` or ``AppendBlob``."""
    value = props.blob_type
    return str(getattr(value, "value", value) or "BlockBlob")


def content_datum(content: bytes, binary: bool) -> Datum:
    """The blob's content as the host sends it: bytes with ``dataType: binary``, else text."""
    return Datum(content, "bytes") if binary else Datum(content.decode("utf-8", "replace"), "string")


def properties_json(props: BlobProperties) -> dict[str, Any]:
    """The blob's properties as the Functions host serializes them (.NET property names)."""
    settings = props.content_settings
    md5 = getattr(settings, "content_md5", None)
    values: dict[str, Any] = {
        "LastModified": _iso(props.last_modified),
        "CreatedOn": _iso(props.creation_time),
        "Metadata": dict(props.metadata or {}),
        "BlobType": _BLOB_TYPES.get(blob_type_name(props), blob_type_name(props)),
        "ContentLength": int(props.size or 0),
        "ContentType": getattr(settings, "content_type", None),
        "ContentEncoding": getattr(settings, "content_encoding", None),
        "ContentLanguage": getattr(settings, "content_language", None),
        "ContentDisposition": getattr(settings, "content_disposition", None),
        "CacheControl": getattr(settings, "cache_control", None),
        "ContentHash": base64.b64encode(bytes(md5)).decode("ascii") if md5 else None,
        "ETag": quoted_etag(str(props.etag)),
    }
    return {key: value for key, value in values.items() if value is not None}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def blob_binding_data(path: BlobPath, uri: str, props: BlobProperties) -> dict[str, Any]:
    """``BlobTrigger``, ``Uri``, ``Properties`` and ``Metadata`` of a blob, as binding data."""
    return {
        "BlobTrigger": str(path),
        "Uri": uri,
        "Properties": properties_json(props),
        "Metadata": dict(props.metadata or {}),
    }


async def read_blob(
    blobs: BlobServiceClient, path: BlobPath, etag: str | None = None
) -> tuple[bytes, BlobProperties, str] | None:
    """The content, properties and URL of a blob; None if it does not exist (or, given ``etag``, changed)."""
    client = blobs.get_blob_client(path.container, path.name)
    conditions: dict[str, Any] = (
        {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag is not None else {}
    )
    async with translated(f"Reading blob '{path}'"):
        try:
            downloader = await client.download_blob(**conditions)
            content = await downloader.readall()
        except (ResourceNotFoundError, ResourceModifiedError):
            return None
    return content, downloader.properties, client.url
