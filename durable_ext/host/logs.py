"""Log set-up for the host process: readable lines, quiet Azure SDK."""

from __future__ import annotations

import logging
import os


def configure_logging(level: str | None = None) -> None:
    level_name = (level or os.environ.get("DURABLE_EXT_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level_name, logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("azure", "aiohttp.access", "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
