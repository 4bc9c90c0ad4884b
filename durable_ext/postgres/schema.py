"""The task hub's tables, created and upgraded by versioned migrations.

Every hub in one database shares the tables: ``TaskHub`` leads every primary key, as in the MSSQL
provider. Migrations run at start-up inside one transaction holding an advisory lock, so workers
starting together apply each one once; each records its version in ``Versions``, and a database
already at the latest version is left as it is.

Payloads are stored in the rows themselves: PostgreSQL moves large values out of line (TOAST) and
compresses them, which is what the MSSQL provider's ``Payloads`` table is for.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


MIGRATIONS = (
    Migration(
        1,
        "the task hub tables",
        """
CREATE TABLE IF NOT EXISTS {s}.Instances (
    TaskHub text NOT NULL,
    InstanceID text NOT NULL,
    ExecutionID text,
    Name text,
    Version text,
    RuntimeStatus text,
    CreatedTime timestamptz,
    LastUpdatedTime timestamptz,
    CompletedTime timestamptz,
    ScheduledStartTime timestamptz,
    Generation integer NOT NULL DEFAULT 0,
    Input text,
    Output text,
    CustomStatus text,
    Tags jsonb,
    ParentInstanceID text,
    LockedBy text,
    LockToken uuid,
    LockExpiration timestamptz,
    RowVersion bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (TaskHub, InstanceID)
);
CREATE INDEX IF NOT EXISTS IX_Instances_CreatedTime ON {s}.Instances (TaskHub, CreatedTime);
CREATE INDEX IF NOT EXISTS IX_Instances_RuntimeStatus ON {s}.Instances (TaskHub, RuntimeStatus);

CREATE TABLE IF NOT EXISTS {s}.History (
    TaskHub text NOT NULL,
    InstanceID text NOT NULL,
    ExecutionID text NOT NULL,
    SequenceNumber integer NOT NULL,
    EventType text NOT NULL,
    Name text,
    TaskID integer,
    Timestamp timestamptz NOT NULL,
    Event jsonb NOT NULL,
    PRIMARY KEY (TaskHub, InstanceID, ExecutionID, SequenceNumber)
);

CREATE TABLE IF NOT EXISTS {s}.NewEvents (
    TaskHub text NOT NULL,
    SequenceNumber bigint GENERATED ALWAYS AS IDENTITY,
    InstanceID text NOT NULL,
    ExecutionID text,
    EventType text NOT NULL,
    VisibleTime timestamptz NOT NULL DEFAULT now(),
    DequeueCount integer NOT NULL DEFAULT 0,
    Timestamp timestamptz NOT NULL DEFAULT now(),
    Message jsonb NOT NULL,
    PRIMARY KEY (TaskHub, InstanceID, SequenceNumber)
);
CREATE INDEX IF NOT EXISTS IX_NewEvents_VisibleTime ON {s}.NewEvents (TaskHub, VisibleTime);

CREATE TABLE IF NOT EXISTS {s}.NewTasks (
    TaskHub text NOT NULL,
    SequenceNumber bigint GENERATED ALWAYS AS IDENTITY,
    InstanceID text NOT NULL,
    ExecutionID text,
    Name text,
    TaskID integer,
    VisibleTime timestamptz NOT NULL DEFAULT now(),
    DequeueCount integer NOT NULL DEFAULT 0,
    LockedBy text,
    LockToken uuid,
    LockExpiration timestamptz,
    Timestamp timestamptz NOT NULL DEFAULT now(),
    Message jsonb NOT NULL,
    PRIMARY KEY (TaskHub, SequenceNumber)
);
CREATE INDEX IF NOT EXISTS IX_NewTasks_VisibleTime ON {s}.NewTasks (TaskHub, VisibleTime);

CREATE TABLE IF NOT EXISTS {s}.PoisonMessages (
    TaskHub text NOT NULL,
    ID bigint GENERATED ALWAYS AS IDENTITY,
    InstanceID text NOT NULL,
    Queue text NOT NULL,
    DequeueCount integer NOT NULL,
    Reason text NOT NULL,
    Message jsonb NOT NULL,
    Timestamp timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (TaskHub, ID)
);
""",
    ),
    Migration(
        2,
        "indexes for listings by created time and counts per status",
        """
DROP INDEX IF EXISTS {s}.IX_Instances_CreatedTime;
DROP INDEX IF EXISTS {s}.IX_Instances_RuntimeStatus;
CREATE INDEX IF NOT EXISTS IX_Instances_Created ON {s}.Instances (TaskHub, CreatedTime, InstanceID);
CREATE INDEX IF NOT EXISTS IX_Instances_StatusCreated
    ON {s}.Instances (TaskHub, RuntimeStatus, CreatedTime, InstanceID);
CREATE INDEX IF NOT EXISTS IX_Instances_NameCreated ON {s}.Instances (TaskHub, Name, CreatedTime, InstanceID);
""",
    ),
    Migration(
        3,
        "bulk jobs",
        """
CREATE TABLE IF NOT EXISTS {s}.Jobs (
    TaskHub text NOT NULL,
    JobID text NOT NULL,
    Body text NOT NULL,
    Version bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (TaskHub, JobID)
);
""",
    ),
)
LATEST = MIGRATIONS[-1].version


def lock_key(schema: str) -> int:
    """The advisory lock that serializes migrations of one schema (a stable 32-bit number)."""
    return zlib.crc32(f"durable-ext schema {schema}".encode())


async def migrate(conn: asyncpg.Connection, schema: str) -> list[int]:
    """Bring ``schema`` to the latest version; the versions this call applied."""
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(schema))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.Versions ("
            "Version integer PRIMARY KEY, Name text NOT NULL, UpgradeTime timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in await conn.fetch(f"SELECT Version FROM {schema}.Versions")}
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            await conn.execute(migration.sql.format(s=schema))
            await conn.execute(
                f"INSERT INTO {schema}.Versions (Version, Name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied.append(migration.version)
    return applied


async def drop_hub(conn: asyncpg.Connection, schema: str, hub: str) -> int:
    """Delete every row of one task hub (the tables stay: other hubs share them)."""
    deleted = 0
    async with conn.transaction():
        for table in ("NewEvents", "NewTasks", "History", "PoisonMessages", "Instances", "Jobs"):
            status = await conn.execute(f"DELETE FROM {schema}.{table} WHERE TaskHub = $1", hub)
            deleted += int(status.split()[-1])
    return deleted
