"""How a PostgreSQL task hub is reached and run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..core.worker_id import default_worker_id

SCHEMA_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class PostgresSettings:
    hub_name: str
    dsn: str
    """The connection string (``postgresql://user:password@host:port/database``, or key=value pairs)."""
    connection_name: str = "PostgresConnection"
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
