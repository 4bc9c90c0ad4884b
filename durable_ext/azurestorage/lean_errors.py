"""The exceptions of a failed lean request, made by the SDKs' own error handling.

An answer the operation does not expect becomes an azure-core response and goes through the same
steps as in the SDK clients (the generated operation's error map, then the queue SDK's
``process_storage_error`` or the tables SDK's ``_process_table_error``), so callers see the same
exception types, ``status_code``, ``error_code`` and messages on either path. Errors are rare; this
is not the fast path.
"""

from __future__ import annotations

from typing import NoReturn

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
    map_error,
)
from azure.core.rest import HttpRequest
from azure.core.rest._aiohttp import _CIMultiDict
from azure.core.rest._http_response_impl_async import AsyncHttpResponseImpl
from azure.data.tables._error import _decode_error, _process_table_error, _validate_tablename_error
from azure.storage.queue._shared.response_handlers import process_storage_error

from .lean_http import Answer

_ERROR_MAP: dict[int, type[HttpResponseError]] = {
    401: ClientAuthenticationError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    304: ResourceNotModifiedError,
}
"""The generated operations' error map (the same in the queue and tables SDKs)."""


class _ReadResponse(AsyncHttpResponseImpl):
    """An azure-core response over an answer read whole (as the SDK's aiohttp transport makes one)."""

    def __init__(self, answer: Answer, method: str) -> None:
        headers = _CIMultiDict(answer.headers)
        super().__init__(
            request=HttpRequest(method, answer.url),
            internal_response=answer,
            status_code=answer.status,
            headers=headers,
            content_type=headers.get("content-type"),
            reason=answer.reason,
            stream_download_generator=None,
        )
        self._content = answer.body
        self._is_stream_consumed = True

    async def close(self) -> None:
        self._is_closed = True


async def _sdk_error(answer: Answer, method: str) -> HttpResponseError:
    response = _ReadResponse(answer, method)
    try:
        map_error(status_code=answer.status, response=response, error_map=_ERROR_MAP)
    except HttpResponseError as error:
        return error
    return HttpResponseError(response=response)


async def raise_queue_error(answer: Answer, method: str) -> NoReturn:
    process_storage_error(await _sdk_error(answer, method))


async def raise_table_error(answer: Answer, method: str, table: str, *, inserting: bool = False) -> NoReturn:
    """``inserting``: Insert Entity, whose client method raises the undecoded error (as the SDK does)."""
    error = await _sdk_error(answer, method)
    if inserting:
        _validate_tablename_error(_decode_error(error.response, error.message), table)
        raise error
    _process_table_error(error, table_name=table)
    raise AssertionError("unreachable")
