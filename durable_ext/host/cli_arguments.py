"""Argument types for the command line: each refuses a bad value with a message naming the rule."""

from __future__ import annotations

import argparse
import logging
from datetime import datetime

from ..core.history import OrchestrationStatus
from ..core.queries import InstanceOrder
from ..core.timefmt import parse_datetime
from ..errors import ConfigurationError

MAX_PORT = 65535
MAX_WORKERS = 128
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def whole_number(text: str, low: int, high: int | None = None) -> int:
    """``text`` as an int in ``low..high``; an ``ArgumentTypeError`` that states the range otherwise."""
    allowed = f"a whole number from {low} to {high}" if high is not None else f"a whole number, {low} or more"
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {allowed}, not '{text}'") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"must be {allowed}, not {value}")
    return value


def port(text: str) -> int:
    """A TCP port, 1 to 65535, or 0 for any free port."""
    try:
        return whole_number(text, 0, MAX_PORT)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (0 picks any free port)") from None


def positive(text: str) -> int:
    return whole_number(text, 1)


def workers(text: str) -> int:
    return whole_number(text, 1, MAX_WORKERS)


def listing_order(text: str) -> InstanceOrder:
    """``newest``, ``oldest`` or ``id`` (any case)."""
    try:
        return InstanceOrder.parse(text)
    except ValueError:
        choices = ", ".join(o.value for o in InstanceOrder)
        raise argparse.ArgumentTypeError(f"must be one of {choices}, not '{text}'") from None


def log_level(text: str) -> str:
    name = text.strip().upper()
    if name not in LOG_LEVELS or not isinstance(logging.getLevelName(name), int):
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(LOG_LEVELS)}, not '{text}'")
    return name


def storage(text: str) -> str:
    """A task hub provider for ``--storage``: ``azurestorage``, ``postgres`` or ``memory`` (any case)."""
    from ..extension.options import storage_type_of

    try:
        return storage_type_of(text, "--storage")
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--storage is '{text}': ")) from None


def iso_time(text: str) -> datetime:
    """An aware time from ISO 8601 text (``Z`` or an offset; a time without one is UTC)."""
    try:
        return parse_datetime(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an ISO 8601 time, e.g. 2026-01-31T12:00:00Z"
        ) from exc


def runtime_statuses(names: list[str]) -> frozenset[OrchestrationStatus]:
    """``--runtime-status`` names (any case) as statuses; ConfigurationError naming the unknown ones."""
    by_name = {status.name.lower(): status for status in OrchestrationStatus}
    unknown = [n for n in names if n.lower() not in by_name]
    if unknown:
        raise ConfigurationError(
            f"Unknown --runtime-status {', '.join(unknown)}; use "
            + ", ".join(s.name for s in OrchestrationStatus)
        )
    return frozenset(by_name[n.lower()] for n in names)
