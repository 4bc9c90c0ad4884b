"""The queue bindings' options, host.json ``extensions.queues``, with the Functions host's defaults.

| setting | default |
|---|---|
| ``batchSize`` | 16 (1 to 32) |
| ``newBatchThreshold`` | ``batchSize // 2`` x processor count (1 when ``WEBSITE_SKU`` is ``Dynamic``) |
| ``maxPollingInterval`` | 1 minute, or 2 seconds when ``AZURE_FUNCTIONS_ENVIRONMENT`` is ``Development`` |
| ``visibilityTimeout`` | 0 (how long a failed message stays invisible before its retry) |
| ``maxDequeueCount`` | 5 (at least 1) |
| ``messageEncoding`` | ``base64`` (or ``none``) |

Time spans are .NET TimeSpan text (``"00:00:02"``). A bare number is refused: the Functions host reads it
as a number of *days*, which is never what was meant.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from durable_ext.errors import ConfigurationError
from durable_ext.extension.options import parse_time_span_s
from durable_ext.host.settings import find_key

if TYPE_CHECKING:
    from bindings.catalog import Settings

SECTION = "extensions.queues"
DEFAULT_BATCH_SIZE = 16
MAX_BATCH_SIZE = 32
DEFAULT_MAX_POLLING_INTERVAL_S = 60.0
DEVELOPMENT_MAX_POLLING_INTERVAL_S = 2.0
MIN_POLLING_INTERVAL_S = 0.1
DEFAULT_MAX_DEQUEUE_COUNT = 5
MAX_VISIBILITY_TIMEOUT_S = 7 * 24 * 3600
ENCODINGS = ("base64", "none")


@dataclass(frozen=True)
class QueuesOptions:
    batch_size: int = DEFAULT_BATCH_SIZE
    """Messages fetched per Get Messages call."""
    new_batch_threshold: int = DEFAULT_BATCH_SIZE // 2
    """The next batch is fetched once no more than this many messages are still running."""
    max_polling_interval_s: float = DEFAULT_MAX_POLLING_INTERVAL_S
    """The longest wait between polls of an empty queue."""
    visibility_timeout_s: float = 0.0
    """How long a message whose function failed stays invisible before it is tried again."""
    max_dequeue_count: int = DEFAULT_MAX_DEQUEUE_COUNT
    """Attempts before a message moves to the poison queue."""
    message_encoding: str = "base64"
    """``base64``: message text is the Base64 of the body; ``none``: the body is the text itself."""

    @property
    def max_concurrency(self) -> int:
        """Messages of one queue running at once in this process: ``batchSize + newBatchThreshold``."""
        return self.batch_size + self.new_batch_threshold

    @classmethod
    def from_host_json(
        cls, section: Mapping[str, Any], get_setting: Callable[[str], str | None]
    ) -> QueuesOptions:
        """The options in ``section`` (host.json ``extensions.queues``); ConfigurationError if one is bad."""
        batch_size = _integer(section, "batchSize", DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE)
        threshold = _integer(
            section, "newBatchThreshold", (batch_size // 2) * processor_count(get_setting), 0, None
        )
        development = (get_setting("AZURE_FUNCTIONS_ENVIRONMENT") or "").lower() == "development"
        polling = _time_span(
            section,
            "maxPollingInterval",
            DEVELOPMENT_MAX_POLLING_INTERVAL_S if development else DEFAULT_MAX_POLLING_INTERVAL_S,
            MIN_POLLING_INTERVAL_S,
            None,
        )
        visibility = _time_span(section, "visibilityTimeout", 0.0, 0.0, MAX_VISIBILITY_TIMEOUT_S)
        dequeue = _integer(section, "maxDequeueCount", DEFAULT_MAX_DEQUEUE_COUNT, 1, None)
        return cls(batch_size, threshold, polling, visibility, dequeue, _encoding(section))


def queues_options(settings: Settings) -> QueuesOptions:
    """The app's queue options (host.json ``extensions.queues`` and the environment)."""
    return QueuesOptions.from_host_json(settings.host_section("extensions", "queues"), settings.get)


def processor_count(get_setting: Callable[[str], str | None]) -> int:
    """The processor count the defaults scale with: 1 on the Consumption plan (``WEBSITE_SKU=Dynamic``)."""
    if (get_setting("WEBSITE_SKU") or "").lower() == "dynamic":
        return 1
    return os.cpu_count() or 1


def _invalid(key: str, value: Any, expected: str) -> ConfigurationError:
    return ConfigurationError(
        f"host.json {SECTION}.{key} is {json.dumps(value)}; it must be {expected}. Fix it in host.json, or "
        "remove it to use the default."
    )


def _integer(section: Mapping[str, Any], key: str, default: int, low: int, high: int | None) -> int:
    value = find_key(section, key)
    if value is None:
        return default
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value)
    expected = f"a whole number from {low} to {high}" if high is not None else f"a whole number >= {low}"
    if number is None or number < low or (high is not None and number > high):
        raise _invalid(key, value, expected)
    return number


def _time_span(section: Mapping[str, Any], key: str, default: float, low: float, high: float | None) -> float:
    value = find_key(section, key)
    if value is None:
        return default
    expected = 'a time span such as "00:00:30" (hh:mm:ss)'
    if not isinstance(value, str) or _is_number(value):
        raise _invalid(key, value, f"{expected}; a bare number would be read as days")
    try:
        seconds = parse_time_span_s(value)
    except ValueError as exc:
        raise _invalid(key, value, f"{expected} ({exc})") from exc
    if seconds < low or (high is not None and seconds > high):
        bounds = f"at least {low:g} s" + (f" and at most {high:g} s" if high is not None else "")
        raise _invalid(key, value, f"{expected}, {bounds}")
    return seconds


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _encoding(section: Mapping[str, Any]) -> str:
    value = find_key(section, "messageEncoding")
    if value is None:
        return "base64"
    if not isinstance(value, str) or value.lower() not in ENCODINGS:
        raise _invalid("messageEncoding", value, '"base64" or "none"')
    return value.lower()
