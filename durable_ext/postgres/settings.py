"""How a PostgreSQL task hub is reached and run."""

from __future__ import annotations

import os
import re
import socket
import uuid
from dataclasses import dataclass, field

SCHEMA_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class PostgresSettings:
    hub_name: str
    dsn: str
    """The connection string (``postgresql://user:password@host:port/database``, or key=value pairs)."""
    connection_name: str = "SQLDB_Connection"
    """The app setting the connection string came from (named in errors)."""
    schema: str = "dt"
    worker_id: str = field(default_factory=default_worker_id)
    lock_timeout_s: float = 120.0
    """How long an episode's or an activity's lock lasts unrenewed; renewed every third of it while it
    runs, so a killed worker's work is taken up this long after it died."""
    max_polling_interval_s: float = 10.0
    """The longest wait between looks at an idle hub when no notification comes (they are the rule)."""
    batch_size: int = 32
    """Messages of one instance taken for one episode at most."""
    pool_size: int = 16
    poison_message_dequeue_count: int = 10
    max_concurrent_activities: int = 10

    def __post_init__(self) -> None:
        if not SCHEMA_PATTERN.match(self.schema):
            raise ValueError(
                f"the schema name {self.schema!r} must be lowercase letters, digits and underscores "
                "(at most 63, not starting with a digit)"
            )
