"""Continuation tokens of instance and entity listings: an opaque cursor after the last key of a page.

Every provider lists in key order, so the last key of a page is an exact cursor: the next page is the
same query for keys after it. The token handed to clients is that cursor, versioned and base64-encoded.
"""

from __future__ import annotations

import base64
import binascii
import json

from ..errors import InvalidRequestError
from .queries import CONTINUATION_HEADER

_TOKEN_VERSION = 1


def encode_token(last_key: str) -> str:
    payload = json.dumps({"v": _TOKEN_VERSION, "after": last_key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode()


def decode_token(token: str) -> str:
    """The key a page continues after; :class:`InvalidRequestError` for a token not ours."""
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
    return str(data["after"])
