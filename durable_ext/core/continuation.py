"""Continuation tokens of instance and entity listings: an opaque cursor after the last key of a page.

Every provider lists in key order, so the last key of a page is an exact cursor: the next page is the
same query for keys after it. The token handed to clients is that cursor with the listing's order,
versioned and base64-encoded. What the key is belongs to the provider and the order (an instance id in
id order; created time and id in the time orders).
"""

from __future__ import annotations

import base64
import binascii
import json

from ..errors import InvalidRequestError
from .queries import CONTINUATION_HEADER

_TOKEN_VERSION = 1


def encode_token(last_key: str, order: str = "id") -> str:
    fields: dict[str, str] = {"after": last_key} if order == "id" else {"after": last_key, "order": order}
    payload = json.dumps({"v": _TOKEN_VERSION, **fields}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def decode_token(token: str, order: str = "id") -> str:
    """The key a page in ``order`` continues after; :class:`InvalidRequestError` for a token not ours,
    or one of a listing in another order."""
    try:
        padded = token.strip() + "=" * (-len(token.strip()) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
    except (ValueError, UnicodeError, binascii.Error):
        data = None
    if (
        not isinstance(data, dict)
        or data.get("v") != _TOKEN_VERSION
        or not isinstance(data.get("after"), str)
    ):
        raise InvalidRequestError(
            f"The continuation token in the '{CONTINUATION_HEADER}' header was not issued by this host. "
            f"Send back the '{CONTINUATION_HEADER}' value of the previous page unchanged, or omit the "
            "header to read the first page."
        )
    issued_for = str(data.get("order", "id"))
    if issued_for != order:
        raise InvalidRequestError(
            f"The continuation token in the '{CONTINUATION_HEADER}' header continues a listing in "
            f"'{issued_for}' order, not '{order}': ask for the next page with the same order as the first."
        )
    return str(data["after"])
