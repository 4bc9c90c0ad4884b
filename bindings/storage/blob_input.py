"""The ``blob`` input binding: the content of one blob, read before each invocation.

``path`` (``container/blob``) may use binding expressions, resolved against the invocation's binding
data: route parameters of an HTTP trigger, ``{queueTrigger}``, a blob trigger's captures, ``{rand-guid}``,
``{DateTime}``. A blob that does not exist gives ``None``. The value is what the Python worker gives:
a ``func.InputStream`` (``name`` = ``container/blob``, ``length``, ``uri``, ``read()``) for an
``InputStream`` or unannotated parameter; the raw content for one annotated ``str`` or ``bytes``, which
is text unless the binding says ``dataType: binary`` (so ``bytes`` needs ``data_type=BINARY``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bindings.base import FunctionInfo, InvocationContext, data_type_of
from bindings.conversion import annotation_of, decode_argument

from .accounts import StorageAccounts, connection_setting
from .blob_data import blob_binding_data, content_datum, read_blob
from .blob_paths import binding_path
from .queue_trigger import metadata_datum

if TYPE_CHECKING:
    from bindings.catalog import Settings

BINDING_TYPE = "blob"


class BlobInputBinding:
    def __init__(
        self, function: FunctionInfo, binding: dict[str, Any], accounts: StorageAccounts, settings: Settings
    ) -> None:
        self.parameter_name = str(binding.get("name"))
        self.function = function
        self.path = binding_path(function, binding, settings)
        self._connection = connection_setting(binding)
        accounts.check(self._connection, function.name)
        self._accounts = accounts
        self._binary = data_type_of(binding) in ("binary", "stream")
        self._annotation = annotation_of(function, self.parameter_name)

    async def value(self, invocation: InvocationContext) -> Any:
        path = self.path.resolve(invocation.binding_data)
        clients = self._accounts.clients(self._connection, self.function.name)
        found = await read_blob(clients.blobs, path)
        if found is None:
            return decode_argument(BINDING_TYPE, self._annotation, None)
        content, props, uri = found
        metadata = {k: metadata_datum(v) for k, v in blob_binding_data(path, uri, props).items()}
        return decode_argument(BINDING_TYPE, self._annotation, content_datum(content, self._binary), metadata)


class BlobInputBindingProvider:
    binding_type = BINDING_TYPE

    def __init__(self, accounts: StorageAccounts, settings: Settings) -> None:
        self._accounts = accounts
        self._settings = settings

    def create_input(self, function: FunctionInfo, binding: dict[str, Any]) -> BlobInputBinding:
        return BlobInputBinding(function, binding, self._accounts, self._settings)
