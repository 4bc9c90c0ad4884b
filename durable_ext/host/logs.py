"""Log set-up for the host process: readable lines by default, one JSON object per line on request.

``DURABLE_EXT_LOG_LEVEL`` (or ``--log-level``) sets the level; ``DURABLE_EXT_LOG_FORMAT=json`` (in the
environment or in ``local.settings.json`` Values) switches to JSON lines. Lifecycle lines carry the
instance, execution, function and episode (``durable_ext.core.observability``); the JSON format prints
them as fields on every line, the text format appends them in brackets to warnings and errors (its
info lines name the function and instance in the message already).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

from ..azurestorage.health import is_outage

FORMAT_SETTING = "DURABLE_EXT_LOG_FORMAT"
FIELDS = ("instance_id", "execution_id", "function", "episode", "task_id", "partition", "worker")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)  # the first line: a traceback follows the fields
        fields = [f"{name}={getattr(record, name)}" for name in FIELDS if getattr(record, name, None)]
        return f"{text} [{' '.join(fields)}]" if fields and record.levelno >= logging.WARNING else text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                body[name] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


WATCH_LOGGER = "durable_ext.storage.watch"


class OutageFilter(logging.Filter):
    """Keeps out the warnings and errors of single tries that failed because storage cannot be reached.

    While storage is down every loop of the host would say so on each try; the storage watch
    (``durable_ext.extension.storage_watch``) says it once an interval instead, naming the endpoint, the
    setting and the last error. Warnings and errors about anything else pass.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno not in (logging.WARNING, logging.ERROR)
            or record.name == "durable_ext.storage.watch"
        ):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        raised = record.exc_info[1] if record.exc_info else None
        return not any(isinstance(arg, BaseException) and is_outage(arg) for arg in (*args, raised))


def configure_logging(level: str | None = None) -> None:
    level_name = (level or os.environ.get("DURABLE_EXT_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(level=getattr(logging, level_name, logging.INFO))
    for handler in logging.getLogger().handlers:
        handler.addFilter(OutageFilter())
    apply_log_format()
    for noisy in ("azure", "aiohttp.access", "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def apply_log_format(name: str | None = None) -> None:
    """Use the format named by ``name`` or the setting (``text``, the default, or ``json``)."""
    chosen = (name or os.environ.get(FORMAT_SETTING) or "text").lower()
    formatter: logging.Formatter = JsonFormatter() if chosen == "json" else TextFormatter()
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
