"""The blob trigger's options, host.json ``extensions.blobs``.

| setting | default |
|---|---|
| ``maxDegreeOfParallelism`` | 8 x processor count (1 processor when ``WEBSITE_SKU`` is ``Dynamic``) |
| ``poisonBlobThreshold`` | 5 (at least 1): attempts before a blob's trigger message is poison |
| ``scanInterval`` | ``00:00:02``: how often each watched container is listed (this host's own setting) |

The trigger's work goes through the host queue as in the Functions host, so the queue listener runs it
with ``batchSize = min(32, maxDegreeOfParallelism // 2 + 1)`` and ``newBatchThreshold =
maxDegreeOfParallelism - batchSize``, and tries a message ``poisonBlobThreshold`` times.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from durable_ext.errors import ConfigurationError
from durable_ext.extension.options import parse_time_span_s
from durable_ext.host.settings import find_key

from .queue_options import QueuesOptions, processor_count

if TYPE_CHECKING:
    from bindings.catalog import Settings

SECTION = "extensions.blobs"
DEFAULT_POISON_BLOB_THRESHOLD = 5
DEFAULT_SCAN_INTERVAL_S = 2.0
MIN_SCAN_INTERVAL_S = 0.1
MAX_BATCH_SIZE = 32


@dataclass(frozen=True)
class BlobsOptions:
    max_degree_of_parallelism: int
    """Blob trigger functions running at once in this process."""
    poison_blob_threshold: int = DEFAULT_POISON_BLOB_THRESHOLD
    """Failed attempts after which a blob's trigger message goes to ``webjobs-blobtrigger-poison``."""
    scan_interval_s: float = DEFAULT_SCAN_INTERVAL_S
    """How often a watched container is listed for new and changed blobs."""

    @classmethod
    def from_host_json(
        cls, section: Mapping[str, Any], get_setting: Callable[[str], str | None]
    ) -> BlobsOptions:
        """The options in ``section`` (host.json ``extensions.blobs``); ConfigurationError if one is bad."""
        return cls(
            max_degree_of_parallelism=_whole(
                section, "maxDegreeOfParallelism", 8 * processor_count(get_setting)
            ),
            poison_blob_threshold=_whole(section, "poisonBlobThreshold", DEFAULT_POISON_BLOB_THRESHOLD),
            scan_interval_s=_scan_interval(section),
        )

    def queue_options(self) -> QueuesOptions:
        """How the host queue of blob trigger messages is listened to."""
        batch_size = min(MAX_BATCH_SIZE, self.max_degree_of_parallelism // 2 + 1)
        return QueuesOptions(
            batch_size=batch_size,
            new_batch_threshold=self.max_degree_of_parallelism - batch_size,
            max_polling_interval_s=self.scan_interval_s,
            visibility_timeout_s=0.0,
            max_dequeue_count=self.poison_blob_threshold,
            message_encoding="base64",
        )


def blobs_options(settings: Settings) -> BlobsOptions:
    """The app's blob trigger options (host.json ``extensions.blobs`` and the environment)."""
    return BlobsOptions.from_host_json(settings.host_section("extensions", "blobs"), settings.get)


def _invalid(key: str, value: Any, expected: str) -> ConfigurationError:
    return ConfigurationError(
        f"host.json {SECTION}.{key} is {json.dumps(value)}; it must be {expected}. Fix it in host.json, or "
        "remove it to use the default."
    )


def _whole(section: Mapping[str, Any], key: str, default: int) -> int:
    value = find_key(section, key)
    if value is None:
        return default
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text.isdigit() or int(text) < 1:
        raise _invalid(key, value, "a whole number of at least 1")
    return int(text)


def _scan_interval(section: Mapping[str, Any]) -> float:
    value = find_key(section, "scanInterval")
    if value is None:
        return DEFAULT_SCAN_INTERVAL_S
    expected = f'a time span of at least {MIN_SCAN_INTERVAL_S:g} s, such as "00:00:02" (hh:mm:ss)'
    try:
        seconds = parse_time_span_s(value) if isinstance(value, str) and ":" in value else -1.0
    except ValueError as exc:
        raise _invalid("scanInterval", value, f"{expected} ({exc})") from exc
    if seconds < MIN_SCAN_INTERVAL_S:
        raise _invalid("scanInterval", value, expected)
    return seconds
