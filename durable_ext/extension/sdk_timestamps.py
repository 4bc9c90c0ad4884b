"""The SDK's history timestamps, each parsed once.

The SDK builds its history from the context JSON on every episode and parses each event's
``Timestamp`` with dateutil's general parser (about a tenth of a millisecond each), so an instance
with N events pays N parses per episode, most of them for the same texts as the episode before. The
parse the SDK uses is wrapped so each text is parsed by dateutil once and the (immutable) datetime
reused: the SDK sees the same values it always did, dateutil's local-zone rules included.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from functools import lru_cache
from typing import Any

from dateutil.parser import parse

_SDK_MODULE = "azure.durable_functions.models.history.HistoryEvent"
CACHED_TEXTS = 16384


@lru_cache(maxsize=CACHED_TEXTS)
def _parse_once(text: str) -> datetime:
    return parse(text)


def parse_timestamp(text: Any, *args: Any, **kwargs: Any) -> datetime:
    """dateutil's ``parse``, remembered for a plain text."""
    if args or kwargs or not isinstance(text, str):
        return parse(text, *args, **kwargs)
    return _parse_once(text)


def install() -> None:
    """Make the SDK's history events use :func:`parse_timestamp` (once; a newer SDK that parses
    differently is left alone)."""
    module = importlib.import_module(_SDK_MODULE)
    if getattr(module, "dt_parse", None) is parse:
        vars(module)["dt_parse"] = parse_timestamp
