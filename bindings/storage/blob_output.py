"""The ``blob`` output binding: a block blob written with the value a function set, after it succeeded.

``path`` may use binding expressions, resolved per invocation. The blob is overwritten if it exists and
its container is created if it does not. ``str`` is written as UTF-8, ``bytes``/``bytearray`` and
file-like objects (``read()``) as they are; as in the Functions host, a JSON value is written as compact
JSON, an ``int`` as 4 (or 8) little-endian bytes and a ``float`` as 8. A ``func.Out`` left ``None``
writes nothing (the invoker skips it); a blob ``$return`` of ``None`` fails the invocation, as the
worker's converter refuses it.
"""

from __future__ import annotations

import contextlib
import json
import struct
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from bindings.base import FunctionInfo, InvocationContext
from bindings.conversion import Datum, annotation_of, encode_output
from durable_ext.azurestorage.clients import translated

from .accounts import StorageAccounts, connection_setting
from .blob_paths import BlobPath, binding_path
from .blob_watch import PROCESS_BLOB_WATCH, BlobWatch

if TYPE_CHECKING:
    from azure.storage.blob.aio import BlobServiceClient

    from bindings.catalog import Settings

BINDING_TYPE = "blob"
_INT32 = range(-(2**31), 2**31)


def blob_bytes(datum: Datum) -> bytes:
    """The bytes the host writes to a blob for an output value."""
    value = datum.value
    if datum.type == "string":
        return str(value).encode("utf-8")
    if datum.type == "bytes":
        return bytes(value)
    if datum.type == "json":
        return json.dumps(json.loads(value), separators=(",", ":")).encode("utf-8")
    if datum.type == "int":
        return struct.pack("<i" if value in _INT32 else "<q", value)
    if datum.type == "double":
        return struct.pack("<d", value)
    raise TypeError(f"a value of type '{datum.type}' cannot be written to a blob")


async def upload_creating_container(blobs: BlobServiceClient, path: BlobPath, data: bytes) -> None:
    """Write ``data`` as block blob ``path`` (overwriting it); create the container if it is missing."""
    client = blobs.get_blob_client(path.container, path.name)
    async with translated(f"Writing blob '{path}'"):
        try:
            await client.upload_blob(data, overwrite=True)
            return
        except ResourceNotFoundError:
            pass
        with contextlib.suppress(ResourceExistsError):
            await blobs.get_container_client(path.container).create_container()
        await client.upload_blob(data, overwrite=True)


class BlobOutputBinding:
    def __init__(
        self,
        function: FunctionInfo,
        binding: dict[str, Any],
        accounts: StorageAccounts,
        settings: Settings,
        watch: BlobWatch = PROCESS_BLOB_WATCH,
    ) -> None:
        self.parameter_name = str(binding.get("name"))
        self.function = function
        self.path = binding_path(function, binding, settings)
        self._connection = connection_setting(binding)
        accounts.check(self._connection, function.name)
        self._accounts = accounts
        self._annotation = annotation_of(function, self.parameter_name)
        self._watch = watch

    async def write(self, value: Any, invocation: InvocationContext) -> None:
        if value is None:
            raise TypeError(
                f"Function '{self.function.name}' returned None, but its return value goes to the blob "
                f"output '{self.path.container}/{self.path.name}'. Return str or bytes, or use a "
                "func.Out parameter to write nothing."
            )
        try:
            datum = encode_output(BINDING_TYPE, self._annotation, value)
        except NotImplementedError:
            raise TypeError(
                f"Function '{self.function.name}' gave its blob output '{self.parameter_name}' a "
                f"{type(value).__name__}; a blob output takes str, bytes or a file-like object."
            ) from None
        path = self.path.resolve(invocation.binding_data)
        blobs = self._accounts.clients(self._connection, self.function.name).blobs
        await upload_creating_container(blobs, path, blob_bytes(datum))
        self._watch.notify(blobs, path)


class BlobOutputBindingProvider:
    binding_type = BINDING_TYPE

    def __init__(self, accounts: StorageAccounts, settings: Settings) -> None:
        self._accounts = accounts
        self._settings = settings

    def create_output(self, function: FunctionInfo, binding: dict[str, Any]) -> BlobOutputBinding:
        return BlobOutputBinding(function, binding, self._accounts, self._settings)
