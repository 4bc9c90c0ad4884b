"""Shared Key signing of storage requests, as the Azure storage SDKs sign them.

Queue requests carry the full Shared Key signature (verb, the standard headers, the ``x-ms-`` headers,
the resource and its query); Table requests the Table service's Shared Key form (verb, Content-MD5,
Content-Type, date, the resource and its ``comp`` parameter). See "Authorize with Shared Key" in the
Azure Storage REST reference.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from email.utils import formatdate

_QUEUE_STANDARD_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)


class SharedKey:
    """The account name and key that sign one account's requests."""

    def __init__(self, account_name: str, account_key: str) -> None:
        self.account_name = account_name
        self._key = base64.b64decode(account_key)
        self._date_second = -1
        self._date = ""

    def date(self) -> str:
        """The ``x-ms-date`` value for now (RFC 1123, formatted once a second)."""
        second = int(time.time())
        if second != self._date_second:
            self._date, self._date_second = formatdate(second, usegmt=True), second
        return self._date

    def sign(self, string_to_sign: str) -> str:
        digest = hmac.digest(self._key, string_to_sign.encode("utf-8"), hashlib.sha256)
        return base64.b64encode(digest).decode("ascii")

    def queue_authorization(
        self, method: str, raw_path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> str:
        """The ``Authorization`` value of a Queue (or Blob) request; ``headers`` by lower-case name."""
        standard = [headers.get(name, "") for name in _QUEUE_STANDARD_HEADERS]
        if standard[2] == "0":  # a zero Content-Length is signed as empty
            standard[2] = ""
        x_ms_names = sorted(name for name in headers if name.startswith("x-ms-"))
        x_ms = "".join(f"{name}:{headers[name]}\n" for name in x_ms_names)
        resource = f"/{self.account_name}{raw_path}" + "".join(
            f"\n{name.lower()}:{query[name]}" for name in sorted(query)
        )
        text = method + "\n" + "\n".join(standard) + "\n" + x_ms + resource
        return f"SharedKey {self.account_name}:{self.sign(text)}"

    def table_authorization(
        self, method: str, raw_path: str, content_type: str, date: str, comp: str | None = None
    ) -> str:
        """The ``Authorization`` value of a Table request (no Content-MD5 is sent)."""
        resource = f"/{self.account_name}{raw_path}" + (f"?comp={comp}" if comp else "")
        text = f"{method}\n\n{content_type}\n{date}\n{resource}"
        return f"SharedKey {self.account_name}:{self.sign(text)}"
